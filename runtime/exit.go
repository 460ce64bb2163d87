package runtime

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/runtime/shim"
)

// watch waits for a shim to exit and records the container's end.
func (d *Daemon) watch(c *Container, gen int, shimExited <-chan struct{}) {
	go d.monitorHealth(c, gen)
	<-shimExited
	d.handleExit(c, gen)
}

// handleExit records how the run ended (from exit.json) and applies the
// restart policy.
func (d *Daemon) handleExit(c *Container, gen int) {
	if d.closed.Load() {
		return // the next daemon will read exit.json
	}
	c.mu.Lock()
	if gen != c.gen || c.st.Status != StatusRunning {
		c.mu.Unlock()
		return
	}
	var ex shim.Exit
	if err := atomicfile.ReadJSON(filepath.Join(c.runDir, shim.ExitFile), &ex); err != nil {
		ex = shim.Exit{ExitCode: 255, Error: "the shim exited without recording the container's exit status", FinishedAt: time.Now().UTC()}
	}
	d.recordExitLocked(c, ex)
	exitCode := c.st.ExitCode
	c.mu.Unlock()
	d.event(c, events.ActionDie, map[string]string{"exitCode": fmt.Sprint(exitCode)})
	d.maybeRestart(c, false)
}

// setExitedLocked moves the state to exited with what the shim recorded;
// c.mu must be held (or c not yet shared, as while restoring).
func (c *Container) setExitedLocked(ex shim.Exit) {
	c.st.Status = StatusExited
	c.st.ExitCode = ex.ExitCode
	c.st.Error = ex.Error
	c.st.OOMKilled = ex.OOMKilled
	c.st.FinishedAt = ex.FinishedAt
	c.st.Pid, c.st.PidStart, c.st.ShimPid, c.st.ShimStart = 0, 0, 0, 0
}

// recordExitLocked sets the state of an ended run; c.mu must be held.
func (d *Daemon) recordExitLocked(c *Container, ex shim.Exit) {
	c.setExitedLocked(ex)
	if err := c.saveLocked(); err != nil {
		d.log.Error("saving container state", "container", c.spec.ID[:12], "err", err)
	}
	if c.exited != nil {
		close(c.exited)
		c.exited = nil
	}
	c.notifyLocked()
}
