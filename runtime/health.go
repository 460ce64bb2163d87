package runtime

import (
	"bytes"
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
)

// Healthchecks (--health-* and an image's HEALTHCHECK) are run by the
// daemon, through runc exec as docker exec is, not by the shim: the shim
// stays a small waiter (no timers, no runc runs) because there is one per
// container. The price: while liveswapd is down (a restart, an upgrade)
// no check runs; the health state is in state.json, so the next daemon
// resumes the schedule where it stood, and a container is never marked
// unhealthy for the daemon's absence.

// dockerd's defaults and limits.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	minHealthDuration     = time.Millisecond
	healthLogEntries      = 5
	healthOutputMax       = 4096
)

// healthTest turns a healthcheck's Test into a command; nil when there is
// no check (none, NONE).
func healthTest(h *container.HealthConfig) ([]string, error) {
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil, nil
	}
	switch h.Test[0] {
	case "CMD":
		if len(h.Test) < 2 {
			return nil, fmt.Errorf("healthcheck CMD has no command: %w", ErrInvalid)
		}
		return h.Test[1:], nil
	case "CMD-SHELL":
		if len(h.Test) != 2 {
			return nil, fmt.Errorf("healthcheck CMD-SHELL takes one command string: %w", ErrInvalid)
		}
		return []string{"/bin/sh", "-c", h.Test[1]}, nil
	}
	return nil, fmt.Errorf("healthcheck test %q: use CMD, CMD-SHELL or NONE: %w", h.Test[0], ErrInvalid)
}

// checkHealthConfig refuses what dockerd refuses.
func checkHealthConfig(h *container.HealthConfig) error {
	if h == nil {
		return nil
	}
	if _, err := healthTest(h); err != nil {
		return err
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--health-interval", h.Interval}, {"--health-timeout", h.Timeout}, {"--health-start-period", h.StartPeriod}} {
		if d.v != 0 && d.v < minHealthDuration {
			return fmt.Errorf("%s %v: the shortest is 1ms: %w", d.flag, d.v, ErrInvalid)
		}
	}
	if h.Retries < 0 {
		return fmt.Errorf("--health-retries %d: it cannot be negative: %w", h.Retries, ErrInvalid)
	}
	if h.StartInterval != 0 {
		return fmt.Errorf("--health-start-interval is not supported by liveswapd (API 1.44); remove it: %w", ErrUnsupported)
	}
	return nil
}

// imageHealthDefaults fills the fields a container's healthcheck leaves
// zero from the image's, as dockerd merges them.
func imageHealthDefaults(cfg, img *container.HealthConfig) {
	if len(cfg.Test) == 0 {
		cfg.Test = img.Test
	}
	if cfg.Interval == 0 {
		cfg.Interval = img.Interval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = img.Timeout
	}
	if cfg.StartPeriod == 0 {
		cfg.StartPeriod = img.StartPeriod
	}
	if cfg.Retries == 0 {
		cfg.Retries = img.Retries
	}
}

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// monitorHealth runs a container's healthcheck on its schedule for the run
// gen, until the run ends.
func (d *Daemon) monitorHealth(c *Container, gen int) {
	spec, _ := c.snapshot()
	h := spec.Config.Healthcheck
	args, err := healthTest(h)
	if err != nil || args == nil {
		return
	}
	interval, timeout := orDefault(h.Interval, defaultHealthInterval), orDefault(h.Timeout, defaultHealthTimeout)
	retries := h.Retries
	if retries == 0 {
		retries = defaultHealthRetries
	}
	c.mu.Lock()
	if c.gen != gen || c.exited == nil {
		c.mu.Unlock()
		return
	}
	exited := c.exited
	if c.st.Health == nil {
		c.st.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
		c.saveLocked()
	}
	// A restored daemon resumes where the last check left off.
	next := interval
	if l := c.st.Health.Log; len(l) > 0 {
		next = max(time.Until(l[len(l)-1].End.Add(interval)), 0)
	}
	c.mu.Unlock()
	t := time.NewTimer(next)
	defer t.Stop()
	for {
		select {
		case <-exited:
			return
		case <-t.C:
		}
		if d.closed.Load() {
			return
		}
		res := d.probeHealth(c, args, timeout)
		d.recordHealth(c, gen, res, retries, h.StartPeriod)
		t.Reset(interval)
	}
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
	var out limitedBuffer
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
				for _, p := range descendants(pid) {
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

// recordHealth applies one result: a success makes the container healthy;
// retries failures in a row unhealthy, except that failures in the start
// period do not count.
func (d *Daemon) recordHealth(c *Container, gen int, res *container.HealthcheckResult, retries int, startPeriod time.Duration) {
	c.mu.Lock()
	if c.gen != gen || c.st.Status != StatusRunning || c.st.Health == nil {
		c.mu.Unlock()
		return
	}
	h := c.st.Health
	old := h.Status
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogEntries {
		h.Log = h.Log[len(h.Log)-healthLogEntries:]
	}
	switch {
	case res.ExitCode == 0:
		h.Status, h.FailingStreak = container.Healthy, 0
	case old == container.Starting && startPeriod > 0 && res.Start.Sub(c.st.StartedAt) < startPeriod:
		// Still starting: not counted.
	default:
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = container.Unhealthy
		}
	}
	changed := h.Status != old
	c.saveLocked()
	c.notifyLocked()
	status := h.Status
	c.mu.Unlock()
	if changed {
		d.event(c, events.Action("health_status: "+status), nil)
	}
}

// limitedBuffer keeps the first healthOutputMax bytes of a check's output.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := healthOutputMax - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return l.b.String() }
