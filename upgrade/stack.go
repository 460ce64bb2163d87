package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/plan"
)

// versionTimeout bounds a binary's version probe.
const versionTimeout = 10 * time.Second

// ownVersion is the version the file at b.Path reports: a backup is named
// after the binary it holds, containerd's after containerd's version.
func (r *run) ownVersion(ctx context.Context, b plan.Binary) string {
	if v, err := checks.RunVersionArgs(ctx, b.Path, r.plan.ComponentOf(b).VersionArgs, versionTimeout); err == nil {
		return v.Version
	}
	if r.plan.Daemon() != nil && r.plan.Daemon().Path == b.Path {
		return r.report.FromVersion // the daemon said it over the API
	}
	return ""
}

// checkTargets runs before anything is staged: each binary's path must be a
// regular file (a symbolic link would be replaced while the file it names,
// the one the daemon runs, stayed, and its backup would be a second link to
// a file liveswap does not own), and a binary run by a unit must be the
// very file that unit's main process runs — else the backup would keep, and
// be labelled as, a file that never ran. It returns each path's sha256,
// which the journal records for its backup.
func (r *run) checkTargets(ctx context.Context) ([]string, error) {
	sums := make([]string, len(r.plan.Binaries))
	for i, b := range r.plan.Binaries {
		if err := plan.RegularFile(b.Path); err != nil {
			return nil, fmt.Errorf("binaries[%d].path: %w (nothing was touched)", i, err)
		}
		sum, err := checks.FileSHA256(b.Path)
		if err != nil {
			return nil, fmt.Errorf("binaries[%d].path: %w (nothing was touched)", i, err)
		}
		sums[i] = sum
		if b.Unit == "" && (r.plan.Daemon() == nil || r.plan.Daemon().Path != b.Path) {
			continue // runc, the shim: no process of their own to compare
		}
		if err := r.runsSameFile(ctx, r.plan.UnitOf(b), b.Path, sum); err != nil {
			return nil, fmt.Errorf("binaries[%d].path: %w (nothing was touched)", i, err)
		}
	}
	return sums, nil
}

// runsSameFile checks that unit's main process runs the file at path: the
// same inode, or (a package reinstalled the same build) the same sha256.
// /proc/PID/exe is stat'ed and read through the kernel's link, so a file
// deleted or renamed since the start is still the one compared.
func (r *run) runsSameFile(ctx context.Context, unit, path, sum string) error {
	u, err := r.sd.Unit(ctx, unit)
	if err != nil {
		return err
	}
	if u.MainPID <= 0 {
		return fmt.Errorf("unit %s is %s/%s with no main process: start it, then run this again", unit, u.ActiveState, u.SubState)
	}
	return SameExecutable(u.MainPID, path, sum, unit)
}

// SameExecutable says whether process pid runs the file at path (whose
// sha256 is sum): nil when it is the same file or the same content, else
// an error naming both and what to do.
func SameExecutable(pid int, path, sum, unit string) error {
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	est, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("unit %s: main process %d: %w", unit, pid, err)
	}
	if pst, err := os.Stat(path); err == nil && os.SameFile(est, pst) {
		return nil
	}
	esum, err := checks.FileSHA256(exe)
	if err != nil {
		return fmt.Errorf("unit %s: main process %d: %w", unit, pid, err)
	}
	if esum == sum {
		return nil
	}
	name, _ := procfs.Link(pid, "exe")
	return fmt.Errorf("the running daemon is not %s: unit %s's main process %d runs %s (sha256 %s), while %s holds sha256 %s: "+
		"restart %s first so that it runs the file on disk, or fix the binary path in the plan", path, unit, pid, orDash(name), esum, path, sum, unit)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// componentReports lists each swapped binary with the versions it goes
// between.
func (r *run) componentReports(from, to func(i int, b plan.Binary) string) []ComponentReport {
	out := []ComponentReport{}
	for i, b := range r.plan.Binaries {
		out = append(out, ComponentReport{Name: r.plan.ComponentOf(b).Name, Unit: r.plan.UnitOf(b), FromVersion: from(i, b), ToVersion: to(i, b)})
	}
	return out
}

// restartUnits restarts every unit whose binary changed through systemd,
// in the stack's order: containerd.service before the target that connects
// to it. A rollback uses the same order, not the reverse: restarted first,
// dockerd waits for a containerd.service that the failed start left in
// auto-restart (RestartSec=5), measured as 5.4 s of API downtime and 5 API
// errors; containerd first, 0 ms and none.
func (r *run) restartUnits(ctx context.Context) error {
	for _, u := range r.plan.Units() {
		done := r.opts.Progress.Wait("restarting " + u)
		// Clears the unit's start rate-limit counter: restarts made shortly
		// before (by an operator, or a previous run) must not turn this one
		// into start-limit-hit.
		r.sd.ResetFailed(ctx, u)
		err := r.sd.Restart(ctx, u)
		done()
		if err != nil {
			return fmt.Errorf("restarting %s: %w", u, err)
		}
		r.logf("[restart] %s restarted", u)
	}
	return nil
}

// targetRestarted says whether the target's own unit is restarted (a plan
// of containerd alone leaves dockerd running).
func (r *run) targetRestarted() bool {
	return slices.Contains(r.plan.Units(), r.plan.Target.Unit)
}

// componentsReady checks each swapped component that runs: a component in
// a unit of its own (and the daemon) must run the plan's file, not a
// deleted one, and a component the engine reports (containerd) must report
// want(i) — polled until the ready timeout, since dockerd reconnects to a
// restarted containerd on its own schedule.
func (r *run) componentsReady(ctx context.Context, want func(i int, b plan.Binary) string) error {
	ctx, cancel := context.WithTimeout(ctx, r.plan.Policy.ReadyTimeout.D())
	defer cancel()
	for i, b := range r.plan.Binaries {
		c := r.plan.ComponentOf(b)
		if b.Unit != "" || (r.plan.Daemon() != nil && r.plan.Daemon().Path == b.Path) {
			if err := r.runsFile(ctx, r.plan.UnitOf(b), b.Path); err != nil {
				return err
			}
		}
		w := want(i, b)
		if c.Name == r.plan.DaemonComponent() && r.plan.UnitOf(b) == r.plan.Target.Unit {
			if w != "" && r.report.ToVersion != "" { // waitReady checked it over the API
				r.setComponentTo(i, r.report.ToVersion)
			}
			continue
		}
		ce, ok := r.eng.(engine.Components)
		if w == "" || !ok || r.plan.UnitOf(b) == "" {
			continue
		}
		var got string
		var err error
		for {
			if got, err = ce.ComponentVersion(ctx, c.Name); err == nil && VersionMatches(got, w) {
				break
			}
			if ctx.Err() != nil {
				if err != nil {
					return fmt.Errorf("%s: the engine does not report its version: %w", c.Name, err)
				}
				return fmt.Errorf("%s reports version %s, want %s: the binary that runs is not the one planned", c.Name, got, w)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r.logf("[ready] %s reports %s", c.Name, got)
		r.setComponentTo(i, got)
	}
	return nil
}

func (r *run) setComponentTo(i int, v string) {
	if i < len(r.report.Components) {
		r.report.Components[i].ToVersion = v
	}
}

// runsFile checks that unit's main process runs path itself: after a swap
// an unrestarted process shows the old file as "(deleted)".
func (r *run) runsFile(ctx context.Context, unit, path string) error {
	u, err := r.sd.Unit(ctx, unit)
	if err != nil {
		return err
	}
	if u.ActiveState != "active" || u.MainPID <= 0 {
		return fmt.Errorf("unit %s is %s/%s with no main process, want active", unit, u.ActiveState, u.SubState)
	}
	exe, err := procfs.Link(u.MainPID, "exe")
	if err != nil {
		return fmt.Errorf("unit %s: main process %d: %w", unit, u.MainPID, err)
	}
	if exe != path && exe != resolved(path) {
		why := "another file"
		if strings.HasSuffix(exe, " (deleted)") {
			why = "the replaced file: the unit was not restarted"
		}
		return fmt.Errorf("unit %s runs %s (%s), want %s", unit, exe, why, path)
	}
	return nil
}

// resolved is path with its symbolic links followed, as /proc/PID/exe
// shows a file run through one.
func resolved(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}
