package runtime

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/liveswap/liveswap/runtime/image"
)

// Stop sends the stop signal, waits up to timeout, then kills.
func (d *Daemon) Stop(ctx context.Context, c *Container, timeout *int) error {
	c.op.Lock()
	defer c.op.Unlock()
	return d.stopLocked(ctx, c, timeout, true)
}

func (d *Daemon) stopLocked(ctx context.Context, c *Container, timeout *int, manual bool) error {
	c.mu.Lock()
	if manual {
		c.st.ManuallyStopped = true
		c.saveLocked()
	}
	if c.st.Status == StatusRestarting {
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
		c.st.Status = StatusExited
		c.saveLocked()
		c.notifyLocked()
		c.mu.Unlock()
		return nil
	}
	if c.st.Status != StatusRunning {
		c.mu.Unlock()
		return ErrNotModified
	}
	exited := c.exited
	sigName := c.spec.Config.StopSignal
	wait := 10 * time.Second
	if c.spec.Config.StopTimeout != nil {
		wait = time.Duration(*c.spec.Config.StopTimeout) * time.Second
	}
	c.mu.Unlock()
	if timeout != nil {
		wait = time.Duration(*timeout) * time.Second
	}
	sig := syscall.SIGTERM
	if sigName != "" {
		if s, err := ParseSignal(sigName); err == nil {
			sig = s
		}
	}
	if wait < 0 {
		wait = 365 * 24 * time.Hour
	}
	if err := d.signalRun(ctx, c, sig); err != nil && !errors.Is(err, errProcessGone) {
		d.log.Warn("sending stop signal", "container", c.spec.ID[:12], "err", err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(wait):
	case <-ctx.Done():
	}
	if err := d.signalRun(ctx, c, syscall.SIGKILL); err != nil && !errors.Is(err, errProcessGone) {
		return fmt.Errorf("killing container %s: %w", c.spec.ID[:12], err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("container %s did not exit 30s after SIGKILL", c.spec.ID[:12])
	}
}

// pendingWait bounds how long a signal waits for an adopted shim that has
// not recorded the container's process yet.
const pendingWait = 2 * time.Second

// signalRun sends sig to the container's process. A run adopted while its
// shim was starting has no process pid yet: the signal waits a moment for
// it; if it is still unknown, a terminating signal kills the shim's whole
// session (the shim and whatever it started), and other signals are
// refused.
func (d *Daemon) signalRun(ctx context.Context, c *Container, sig syscall.Signal) error {
	deadline := time.NewTimer(pendingWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		st, changed := c.st, c.changed
		c.mu.Unlock()
		if st.Status != StatusRunning {
			return errProcessGone
		}
		if st.Pid != 0 {
			return signalGuarded(st.Pid, st.PidStart, sig)
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		case <-deadline.C:
		}
		switch sig {
		case syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT:
			d.log.Warn("the shim has not started the container's process yet; killing its session", "container", c.spec.ID[:12], "shim", st.ShimPid)
			return killSession(st.ShimPid, st.ShimStart)
		}
		return fmt.Errorf("container %s is starting (its shim, pid %d, has not recorded the process yet); try again: %w", c.spec.ID[:12], st.ShimPid, ErrConflict)
	}
}

// Kill sends sig to the container's process.
func (d *Daemon) Kill(ctx context.Context, c *Container, sig syscall.Signal) error {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	if c.st.Status != StatusRunning {
		c.mu.Unlock()
		return fmt.Errorf("Cannot kill container: %s: container %s is not running: %w", c.spec.ID, c.spec.ID, ErrConflict)
	}
	// As in dockerd, a container killed by hand is not restarted by
	// its policy.
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		c.st.ManuallyStopped = true
		c.saveLocked()
	}
	exited := c.exited
	c.mu.Unlock()
	d.event(c, events.ActionKill, map[string]string{"signal": fmt.Sprint(int(sig))})
	if err := d.signalRun(ctx, c, sig); err != nil {
		if errors.Is(err, errProcessGone) {
			return nil
		}
		return fmt.Errorf("Cannot kill container: %s: %w", c.spec.ID, err)
	}
	if sig == syscall.SIGKILL {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
	}
	return nil
}

// Restart stops (if running) and starts the container.
func (d *Daemon) Restart(ctx context.Context, c *Container, timeout *int) error {
	c.op.Lock()
	defer c.op.Unlock()
	if err := d.stopLocked(ctx, c, timeout, true); err != nil && !errors.Is(err, ErrNotModified) {
		return err
	}
	if err := d.startLocked(ctx, c, false); err != nil && !errors.Is(err, ErrNotModified) {
		return err
	}
	d.event(c, events.ActionRestart, nil)
	return nil
}

// Remove deletes a container; force kills it first if it runs.
func (d *Daemon) Remove(ctx context.Context, c *Container, force bool) error {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	running := c.st.Status == StatusRunning
	if c.removed {
		c.mu.Unlock()
		return fmt.Errorf("No such container: %s: %w", c.spec.ID, ErrNotFound)
	}
	c.mu.Unlock()
	if running {
		if !force {
			return fmt.Errorf("You cannot remove a running container %s. Stop the container before attempting removal or force remove: %w", c.spec.ID, ErrConflict)
		}
		zero := 0
		c.mu.Lock()
		c.st.ManuallyStopped = true
		c.mu.Unlock()
		if err := d.stopLockedSignal(ctx, c, syscall.SIGKILL, &zero); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.removed = true
	c.st.Status = StatusRemoving
	c.notifyLocked()
	c.mu.Unlock()
	d.mu.Lock()
	delete(d.byID, c.spec.ID)
	if d.byName[c.spec.Name] == c {
		delete(d.byName, c.spec.Name)
	}
	d.mu.Unlock()
	err1 := removeDirAtomic(c.runDir)
	// The overlay goes first: the removal must not reach through it.
	err2 := image.Unmount(c.dataDir)
	if err2 == nil {
		err2 = removeDirAtomic(c.dataDir)
	}
	d.event(c, events.ActionDestroy, nil)
	return errors.Join(err1, err2)
}

// stopLockedSignal kills with sig directly (rm -f); c.op must be held.
func (d *Daemon) stopLockedSignal(ctx context.Context, c *Container, sig syscall.Signal, _ *int) error {
	c.mu.Lock()
	if c.st.Status != StatusRunning {
		c.mu.Unlock()
		return nil
	}
	exited := c.exited
	c.mu.Unlock()
	if err := d.signalRun(ctx, c, sig); err != nil && !errors.Is(err, errProcessGone) {
		return fmt.Errorf("killing container %s: %w", c.spec.ID[:12], err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("container %s did not exit 30s after %v", c.spec.ID[:12], sig)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait blocks until the condition holds and returns the exit code.
func (d *Daemon) Wait(ctx context.Context, c *Container, condition container.WaitCondition) (int, error) {
	c.mu.Lock()
	sawRunning := c.st.Status == StatusRunning || c.st.Status == StatusRestarting
	startGen := c.gen
	c.mu.Unlock()
	for {
		c.mu.Lock()
		st, removed, ch, gen := c.st, c.removed, c.changed, c.gen
		c.mu.Unlock()
		switch condition {
		case container.WaitConditionRemoved:
			if removed {
				return st.ExitCode, nil
			}
		case container.WaitConditionNextExit:
			if (sawRunning || gen > startGen) && st.Status != StatusRunning && st.Status != StatusRestarting {
				return st.ExitCode, nil
			}
			if removed {
				return st.ExitCode, nil
			}
		default: // not-running
			if st.Status != StatusRunning && st.Status != StatusRestarting {
				return st.ExitCode, nil
			}
		}
		if st.Status == StatusRunning {
			sawRunning = true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// --- restore and shutdown ---
