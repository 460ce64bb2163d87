package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
)

// maybeRestart schedules a policy restart with dockerd's back-off: 100 ms,
// doubling, reset after a run of 10 s or more.
func (d *Daemon) maybeRestart(c *Container, daemonStart bool) {
	if d.shutting.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed || c.st.Status != StatusExited {
		return
	}
	if !RestartPolicy(c.spec.HostConfig.RestartPolicy, c.st.ExitCode, c.st.RestartCount, c.st.ManuallyStopped, daemonStart) {
		if c.spec.HostConfig.AutoRemove && !daemonStart {
			go d.Remove(context.Background(), c, false)
		}
		return
	}
	ran := c.st.FinishedAt.Sub(c.st.StartedAt)
	switch {
	case daemonStart, ran >= 10*time.Second || c.backoff == 0:
		c.backoff = 100 * time.Millisecond
	default:
		c.backoff = min(c.backoff*2, time.Minute)
	}
	delay := c.backoff
	if daemonStart {
		delay = 0
	}
	c.st.Status = StatusRestarting
	c.saveLocked()
	c.notifyLocked()
	c.timer = time.AfterFunc(delay, func() {
		c.op.Lock()
		defer c.op.Unlock()
		c.mu.Lock()
		if c.st.Status != StatusRestarting || c.removed {
			c.mu.Unlock()
			return
		}
		c.st.Status = StatusExited
		c.timer = nil
		c.mu.Unlock()
		if err := d.startLocked(context.Background(), c, true); err != nil && !errors.Is(err, ErrNotModified) {
			d.log.Warn("restart by policy failed", "container", c.spec.ID[:12], "err", err)
			d.maybeRestart(c, false)
		}
	})
}

// --- stop, kill, restart, remove, wait ---

// RestartPolicy decides whether a container that just ended is started
// again. It is a pure function of the policy, the exit code and what
// happened before, so it is table-tested.
func RestartPolicy(p container.RestartPolicy, exitCode, restartCount int, manuallyStopped, daemonStart bool) bool {
	// "always" brings a stopped container back when the daemon starts;
	// "unless-stopped" does not.
	if p.Name == container.RestartPolicyAlways && daemonStart {
		return true
	}
	if manuallyStopped {
		return false
	}
	switch p.Name {
	case container.RestartPolicyAlways:
		return true
	case container.RestartPolicyUnlessStopped:
		return true
	case container.RestartPolicyOnFailure:
		if exitCode == 0 {
			return false
		}
		return p.MaximumRetryCount == 0 || restartCount < p.MaximumRetryCount
	}
	return false
}

// validPolicy checks a restart policy as dockerd does.
func validPolicy(p container.RestartPolicy) error {
	switch p.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if p.MaximumRetryCount != 0 {
			return fmt.Errorf("invalid restart policy: maximum retry count can only be used with 'on-failure': %w", ErrInvalid)
		}
	case container.RestartPolicyOnFailure:
		if p.MaximumRetryCount < 0 {
			return fmt.Errorf("invalid restart policy: maximum retry count cannot be negative: %w", ErrInvalid)
		}
	default:
		return fmt.Errorf("invalid restart policy %q: use no, always, unless-stopped or on-failure[:N]: %w", p.Name, ErrInvalid)
	}
	return nil
}
