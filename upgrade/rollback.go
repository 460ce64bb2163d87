package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/state"
)

// Rollback restores the binaries the journal's last run replaced, restarts
// the unit and checks that the previous version answers and that no
// container was interrupted by the rollback itself.
func Rollback(ctx context.Context, opts Options) (*Report, error) {
	j, err := OpenJournal(stateDir(opts))
	if err != nil {
		return nil, err
	}
	st, err := j.Last()
	if err != nil {
		return nil, err
	}
	if st == nil || st.Plan == nil || len(st.Swaps) == 0 {
		return nil, errors.New("nothing to roll back: the journal records no swapped binary (see `liveswap status`)")
	}
	r, err := newRun(st.Plan, opts)
	if err != nil {
		return nil, err
	}
	r.report.Run, r.report.FromVersion, r.swaps, r.state = st.Run, st.From, st.Swaps, st
	r.probeCtx, r.stopAll = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cleanup()
	r.rn = r.newRunner(nil)
	err = r.rn.Run(ctx, []Phase{
		{Name: "lock", Desc: "take the host's upgrade lock", Run: noDetail(r.takeLock)},
		{Name: "snapshot", Desc: "record every running container and start the probes", Run: noDetail(r.snapshotNow)},
		r.rollbackPhase(),
	})
	var pe *PhaseError
	switch {
	case err == nil:
		r.end(RolledBack)
	case errors.As(err, &pe) && pe.Phase.Undo:
		r.report.Error = err.Error()
		r.report.Remedy = "restore the backups listed by `liveswap status` by hand and restart the unit."
		r.end(Failed)
	default:
		r.report.Error = err.Error()
		r.end(Failed)
	}
	return r.report, nil
}

// snapshotNow takes a fresh snapshot, for a rollback run (the daemon may be
// down: then there is nothing to compare and the probes still run).
func (r *run) snapshotNow(ctx context.Context) error {
	r.state = nil
	if err := r.connect(ctx); err != nil {
		return err
	}
	if s, err := TakeSnapshot(ctx, r.eng, r.plan.Workloads); err == nil {
		r.before = s
	}
	r.downtime = engine.WatchDowntime(r.probeCtx, r.eng, 10*time.Millisecond)
	return nil
}

// FileState is what is on disk for one swapped binary.
type FileState struct {
	Role   string `json:"role"` // target, staged, backup
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	SHA256 string `json:"sha256,omitempty"`
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
	Advice    string      `json:"advice"`
}

// ReadStatus reads the journal and the files it names.
func ReadStatus(dir string) (*Status, error) {
	dir = state.Dir(dir)
	j := &Journal{Dir: dir, path: filepath.Join(dir, state.JournalName)}
	st, err := j.Last()
	if err != nil {
		return nil, err
	}
	if st == nil {
		return &Status{Advice: "no upgrade has run on this host (journal " + j.path + " is empty)"}, nil
	}
	s := &Status{Run: st.Run, Result: st.Result, LastPhase: st.LastPhase, LastState: st.LastState, Error: st.Error,
		Started: st.Started, Updated: st.Updated}
	if st.Plan != nil {
		s.Unit = st.Plan.Target.Unit
	}
	for _, sw := range st.Swaps {
		for _, f := range []struct{ role, path string }{{"target", sw.Path}, {"staged", sw.Staged}, {"backup", sw.Backup}} {
			fs := FileState{Role: f.role, Path: f.path}
			if _, err := os.Stat(f.path); err == nil {
				fs.Exists = true
				fs.SHA256, _ = checks.FileSHA256(f.path)
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
	return s, nil
}
