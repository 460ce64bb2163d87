// Package health is liveswapd's healthchecks (--health-* and an image's
// HEALTHCHECK): the rules of a healthcheck's configuration as dockerd has
// them (Test, Check, ImageDefaults), the state a result moves a container
// to (Apply), and the loop that runs the check on its schedule (Monitor),
// driven through Target, which the container store implements.
//
// Healthchecks are run by the daemon, through runc exec as docker exec is,
// not by the shim: the shim stays a small waiter (no timers, no runc runs)
// because there is one per container. The price: while liveswapd is down
// (a restart, an upgrade) no check runs; the health state is in
// state.json, so the next daemon resumes the schedule where it stood, and
// a container is never marked unhealthy for the daemon's absence.
package health

import (
	"bytes"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/runtime/errdefs"
)

// dockerd's defaults and limits.
const (
	defaultInterval = 30 * time.Second
	defaultTimeout  = 30 * time.Second
	defaultRetries  = 3
	minDuration     = time.Millisecond
	// LogEntries is how many results a container's health log keeps.
	LogEntries = 5
	// OutputMax is how much of a check's output a result keeps.
	OutputMax = 4096
)

// Test turns a healthcheck's Test into a command; nil when there is no
// check (none, NONE).
func Test(h *container.HealthConfig) ([]string, error) {
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil, nil
	}
	switch h.Test[0] {
	case "CMD":
		if len(h.Test) < 2 {
			return nil, fmt.Errorf("healthcheck CMD has no command: %w", errdefs.ErrInvalid)
		}
		return h.Test[1:], nil
	case "CMD-SHELL":
		if len(h.Test) != 2 {
			return nil, fmt.Errorf("healthcheck CMD-SHELL takes one command string: %w", errdefs.ErrInvalid)
		}
		return []string{"/bin/sh", "-c", h.Test[1]}, nil
	}
	return nil, fmt.Errorf("healthcheck test %q: use CMD, CMD-SHELL or NONE: %w", h.Test[0], errdefs.ErrInvalid)
}

// Check refuses what dockerd refuses.
func Check(h *container.HealthConfig) error {
	if h == nil {
		return nil
	}
	if _, err := Test(h); err != nil {
		return err
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--health-interval", h.Interval}, {"--health-timeout", h.Timeout}, {"--health-start-period", h.StartPeriod}} {
		if d.v != 0 && d.v < minDuration {
			return fmt.Errorf("%s %v: the shortest is 1ms: %w", d.flag, d.v, errdefs.ErrInvalid)
		}
	}
	if h.Retries < 0 {
		return fmt.Errorf("--health-retries %d: it cannot be negative: %w", h.Retries, errdefs.ErrInvalid)
	}
	if h.StartInterval != 0 {
		return fmt.Errorf("--health-start-interval is not supported by liveswapd (API 1.44); remove it: %w", errdefs.ErrUnsupported)
	}
	return nil
}

// ImageDefaults fills the fields a container's healthcheck leaves zero
// from the image's, as dockerd merges them.
func ImageDefaults(cfg, img *container.HealthConfig) {
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

// Target is one run of a container whose healthcheck Monitor runs; the
// container store implements it.
type Target interface {
	// Begin starts the health state of the run (starting) if it has none
	// and returns the channel closed when the run ends and the last
	// check's result (nil if none); ok is false if the run is already over.
	Begin() (exited <-chan struct{}, last *container.HealthcheckResult, ok bool)
	// Closing reports whether the daemon is shutting down.
	Closing() bool
	// Probe runs the check once in the container, killing it at timeout.
	Probe(args []string, timeout time.Duration) *container.HealthcheckResult
	// Record applies a result (with Apply) to the run's health state.
	Record(res *container.HealthcheckResult, retries int, startPeriod time.Duration)
}

// Monitor runs h on its schedule until the target's run ends.
func Monitor(h *container.HealthConfig, t Target) {
	args, err := Test(h)
	if err != nil || args == nil {
		return
	}
	interval, timeout := orDefault(h.Interval, defaultInterval), orDefault(h.Timeout, defaultTimeout)
	retries := h.Retries
	if retries == 0 {
		retries = defaultRetries
	}
	exited, last, ok := t.Begin()
	if !ok {
		return
	}
	// A restored daemon resumes where the last check left off.
	next := interval
	if last != nil {
		next = max(time.Until(last.End.Add(interval)), 0)
	}
	timer := time.NewTimer(next)
	defer timer.Stop()
	for {
		select {
		case <-exited:
			return
		case <-timer.C:
		}
		if t.Closing() {
			return
		}
		res := t.Probe(args, timeout)
		t.Record(res, retries, h.StartPeriod)
		timer.Reset(interval)
	}
}

// Apply moves h by one result: a success makes the container healthy;
// retries failures in a row unhealthy, except that failures in the start
// period (from startedAt) do not count. It reports whether the status
// changed.
func Apply(h *container.Health, res *container.HealthcheckResult, retries int, startPeriod time.Duration, startedAt time.Time) bool {
	old := h.Status
	h.Log = append(h.Log, res)
	if len(h.Log) > LogEntries {
		h.Log = h.Log[len(h.Log)-LogEntries:]
	}
	switch {
	case res.ExitCode == 0:
		h.Status, h.FailingStreak = container.Healthy, 0
	case old == container.Starting && startPeriod > 0 && res.Start.Sub(startedAt) < startPeriod:
		// Still starting: not counted.
	default:
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = container.Unhealthy
		}
	}
	return h.Status != old
}

// Output keeps the first OutputMax bytes of a check's output.
type Output struct{ b bytes.Buffer }

func (o *Output) Write(p []byte) (int, error) {
	if room := OutputMax - o.b.Len(); room > 0 {
		o.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String is the output kept.
func (o *Output) String() string { return o.b.String() }
