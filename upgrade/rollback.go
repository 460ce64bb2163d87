package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/dpkg"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/state"
)

// Rollback restores the binaries the journal's last run replaced, restarts
// the unit and checks that the previous version answers and that no
// container was interrupted by the rollback itself: the plan's workload
// probes run throughout, and the containers are compared with a snapshot
// taken before the restart. When no snapshot could be taken (the daemon
// was down) the result is RevertedUnverified, never Reverted.
func Rollback(ctx context.Context, opts Options) (*Report, error) {
	st, err := lastRun(stateDir(opts))
	if err != nil {
		return nil, err
	}
	if st == nil || (st.Plan == nil && st.PlanErr == nil) || len(st.Swaps) == 0 {
		return nil, errors.New("nothing to roll back: the journal records no swapped binary (see `liveswap status`)")
	}
	if st.PlanErr != nil {
		return nil, fmt.Errorf("run %s cannot be rolled back: %w", st.Run, st.PlanErr)
	}
	r, err := newRun(st.Plan, opts)
	if err != nil {
		return nil, err
	}
	// The report goes from the version running now to the one the backups
	// hold (the journal's from_version).
	r.report.Run, r.restoreVersion, r.swaps, r.state = st.Run, st.From, st.Swaps, st
	r.report.FromVersion, r.report.ToVersion = "", st.From
	r.probeCtx, r.stopAll = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cleanup()
	r.rn = r.newRunner(nil)
	err = r.rn.Run(ctx, []Phase{
		{Name: "lock", Desc: "take the host's upgrade lock", Run: noDetail(r.takeLock)},
		{Name: "snapshot", Desc: "record every running container and start the probes", Run: r.snapshotNow},
		r.rollbackPhase(),
	})
	result, e, remedy := rollbackVerdict(err, r.noSnapshot, len(r.plan.Workloads))
	r.report.Error, r.report.Remedy = e, remedy
	r.end(result)
	return r.report, nil
}

// rollbackVerdict turns how the rollback's phases ended into its result,
// error and remedy. noSnapshot, when not empty, says why no container
// could be compared: the rollback is then never called verified.
func rollbackVerdict(err error, noSnapshot string, probes int) (result Result, errText, remedy string) {
	var pe *PhaseError
	switch {
	case err == nil && noSnapshot != "":
		remedy = "the previous binary runs again, but no container was compared: check them yourself (docker ps: StartedAt and restart count)"
		if probes == 0 {
			remedy += "; the plan has no workload probes either."
		} else {
			remedy += fmt.Sprintf("; the %d workload probes failed no more than policy.maxProbeFailures allows.", probes)
		}
		return RevertedUnverified, "not verified: " + noSnapshot, remedy
	case err == nil:
		return Reverted, "", ""
	case errors.Is(err, ErrInterrupted):
		return Failed, err.Error(), remedyInterruptedByRollback
	case errors.As(err, &pe) && !pe.Phase.ChangesHost && !pe.Phase.Undo:
		return Refused, err.Error(), "nothing was changed: the new binary still runs; run `liveswap rollback` again"
	case errors.As(err, &pe) && pe.Phase.Undo:
		return Failed, err.Error(), "restore the backups listed by `liveswap status` by hand and restart the unit."
	}
	return Failed, err.Error(), ""
}

// remedyInterruptedByRollback: the binaries are back, the workloads were hurt.
const remedyInterruptedByRollback = "the previous binary runs again, but workloads were interrupted during the rollback: inspect the containers and probes named above."

// snapshotNow takes a fresh snapshot for a rollback run and starts the
// plan's workload probes. The daemon may be down (that may be why the
// rollback runs): then there is no snapshot to compare with, which the
// result says, and the probes still run.
func (r *run) snapshotNow(ctx context.Context) (string, error) {
	r.state = nil
	if err := r.connect(ctx); err != nil {
		return "", err
	}
	detail := ""
	s, err := TakeSnapshot(ctx, r.eng, r.plan.Workloads)
	if cerr := ctx.Err(); cerr != nil {
		// The operator's interrupt, not a daemon that is down: stop before
		// the rollback changes anything.
		return "", fmt.Errorf("%w before the rollback began", context.Cause(ctx))
	}
	if err == nil {
		r.before = s
		r.report.FromVersion = s.Version
		detail = fmt.Sprintf("%d running containers recorded", len(s.Containers))
	} else {
		r.noSnapshot = "no snapshot before the restart (" + err.Error() + ")"
		detail = r.noSnapshot + ": the containers cannot be compared"
	}
	if err := r.startProbes(); err != nil {
		return "", err
	}
	r.downtime = engine.WatchDowntime(r.probeCtx, r.eng, 10*time.Millisecond)
	return fmt.Sprintf("%s; %d probes started", detail, len(r.probers)), nil
}

// FileState is what is on disk for one swapped binary.
type FileState struct {
	Role   string `json:"role"` // target, staged, backup
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	SHA256 string `json:"sha256,omitempty"`
	// Problem says why a backup cannot be restored (not a regular file,
	// or not the sha256 the journal recorded); empty when it can.
	Problem string `json:"problem,omitempty"`
}

// Status is what `liveswap status` shows.
type Status struct {
	Run       string      `json:"run,omitempty"`
	Result    Result      `json:"result,omitempty"` // empty while unfinished
	LastPhase string      `json:"last_phase,omitempty"`
	LastState string      `json:"last_state,omitempty"`
	Error     string      `json:"error,omitempty"`
	Unit      string      `json:"unit,omitempty"`
	Started   time.Time   `json:"started,omitempty"`
	Updated   time.Time   `json:"updated,omitempty"`
	Files     []FileState `json:"files,omitempty"`
	// PlanError says why the run's plan cannot be read: resume and
	// rollback refuse until it is fixed.
	PlanError string `json:"plan_error,omitempty"`
	// Components are a package plan's programs: dpkg's version, the
	// file's and the running process's (upgrade/status_components.go).
	Components []ComponentState `json:"components,omitempty"`
	Advice     string           `json:"advice"`
}

// ReadStatus reads the journal and the files it names.
func ReadStatus(dir string) (*Status, error) {
	st, err := lastRun(dir)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return &Status{Advice: "no upgrade has run on this host (journal " + filepath.Join(state.Dir(dir), state.JournalName) + " is empty)"}, nil
	}
	s := &Status{Run: st.Run, Result: st.Result, LastPhase: st.LastPhase, LastState: st.LastState, Error: st.Error,
		Unit: st.Unit, Started: st.Started, Updated: st.Updated}
	var unusable []string
	if st.Plan != nil && st.Plan.HasPackages() {
		// dpkg installed the files: there is no staged file or backup,
		// the previous packages are the rollback's.
		s.Components = componentStates(context.Background(), st.Plan)
		st.Swaps = nil
	}
	for _, sw := range st.Swaps {
		for _, f := range []struct{ role, path string }{{"target", sw.Path}, {"staged", sw.Staged}, {"backup", sw.Backup}} {
			fs := FileState{Role: f.role, Path: f.path}
			if _, err := os.Lstat(f.path); err == nil {
				fs.Exists = true
				fs.SHA256, _ = checks.FileSHA256(f.path)
			}
			if f.role == "backup" {
				if err := CheckBackup(sw); err != nil {
					fs.Problem = err.Error()
					unusable = append(unusable, fs.Problem)
				}
			}
			s.Files = append(s.Files, fs)
		}
	}
	switch {
	case st.Ended():
		s.Advice = fmt.Sprintf("the last run ended %s", st.Result)
		if len(st.Swaps) > 0 && st.Result == Upgraded {
			s.Advice += "; `liveswap rollback` would restore the previous binary from its backup"
		}
	case st.Done["swap"]:
		s.Advice = "interrupted after the binaries were swapped: run `liveswap apply --resume` to finish, or `liveswap rollback` to restore the previous binary"
	case st.LastPhase == "swap":
		s.Advice = "interrupted while swapping: `liveswap rollback` restores every backup listed here; `liveswap apply --resume` completes the swap"
	default:
		s.Advice = "interrupted before any binary was swapped: nothing on the host changed; run `liveswap apply` again"
	}
	if st.PlanErr != nil && st.Result == "" {
		s.PlanError = st.PlanErr.Error()
		s.Advice += "; but the run's plan cannot be read, so `liveswap apply --resume` and `liveswap rollback` refuse: " + s.PlanError
	}
	if run := dpkg.Leftover(policyPath); run != "" {
		s.Advice += fmt.Sprintf("; %s is still liveswap's, denying every service action (run %s stopped while dpkg ran): the next `liveswap apply --resume` or `liveswap rollback` puts the host's own back", policyPath, run)
	}
	// Advice that counts on a backup holds only if the backup can be
	// restored: say so rather than promise a rollback that would fail.
	if len(unusable) > 0 && strings.Contains(s.Advice, "rollback") {
		s.Advice += fmt.Sprintf("; but `liveswap rollback` cannot restore: %s. Put the previous binary back by hand (from your package or release archive, checked against its published sha256) and restart the unit", strings.Join(unusable, "; "))
	}
	return s, nil
}
