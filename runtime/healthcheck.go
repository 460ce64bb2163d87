package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/liveswap/liveswap/runtime/health"
)

// healthRun is one run of a container as package health drives its
// healthcheck: the store's side of health.Target.
type healthRun struct {
	d   *Daemon
	c   *Container
	gen int
}

// monitorHealth runs a container's healthcheck on its schedule for the run
// gen, until the run ends.
func (d *Daemon) monitorHealth(c *Container, gen int) {
	spec, _ := c.Snapshot()
	health.Monitor(spec.Config.Healthcheck, healthRun{d, c, gen})
}

func (r healthRun) Begin() (<-chan struct{}, *container.HealthcheckResult, bool) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != r.gen || c.exited == nil {
		return nil, nil, false
	}
	if c.st.Health == nil {
		c.st.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
		c.saveLocked()
	}
	var last *container.HealthcheckResult
	if l := c.st.Health.Log; len(l) > 0 {
		last = l[len(l)-1]
	}
	return c.exited, last, true
}

func (r healthRun) Closing() bool { return r.d.closed.Load() }

func (r healthRun) Probe(args []string, timeout time.Duration) *container.HealthcheckResult {
	return r.d.probeHealth(r.c, args, timeout)
}

func (r healthRun) Record(res *container.HealthcheckResult, retries int, startPeriod time.Duration) {
	r.d.recordHealth(r.c, r.gen, res, retries, startPeriod)
}

// probeHealth runs the check once, killing it at the timeout.
func (d *Daemon) probeHealth(c *Container, args []string, timeout time.Duration) *container.HealthcheckResult {
	res := &container.HealthcheckResult{Start: time.Now()}
	id := "health-" + newID()[:16]
	cmd, cleanup, err := d.execCommand(c, container.ExecOptions{Cmd: args}, id)
	if err != nil {
		res.End, res.ExitCode, res.Output = time.Now(), -1, err.Error()
		return res
	}
	var out health.Output
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cleanup()
		res.End, res.ExitCode, res.Output = time.Now(), -1, err.Error()
		return res
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case err = <-done:
		res.ExitCode = d.execExit(nil, err, cleanup)
		res.Output = out.String()
	case <-ctx.Done():
		// The check and what it started (a shell's children), in the
		// container (runc exec's pid file), then runc exec, which waits.
		if b, err := os.ReadFile(filepath.Join(d.Config().ExecRoot, "execs", id, "pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				for _, p := range Descendants(pid) {
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
		cmd.Process.Kill()
		<-done
		cleanup()
		res.ExitCode, res.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
	}
	res.End = time.Now()
	return res
}

// recordHealth applies one result to the run gen's health state (see
// health.Apply) and saves it.
func (d *Daemon) recordHealth(c *Container, gen int, res *container.HealthcheckResult, retries int, startPeriod time.Duration) {
	c.mu.Lock()
	if c.gen != gen || c.st.Status != StatusRunning || c.st.Health == nil {
		c.mu.Unlock()
		return
	}
	changed := health.Apply(c.st.Health, res, retries, startPeriod, c.st.StartedAt)
	c.saveLocked()
	c.notifyLocked()
	status := c.st.Health.Status
	c.mu.Unlock()
	if changed {
		d.event(c, events.Action("health_status: "+status), nil)
	}
}
