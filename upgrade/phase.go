package upgrade

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Phase is one step of a workflow (apply, rollback, enable-live-restore).
// What the runner and the failure handling do with it is declared here, as
// data, never decided by comparing its name.
type Phase struct {
	Name string
	Desc string
	// ChangesHost: once it has started, the host may differ from before
	// (a binary renamed, a unit restarted, a file written), so a failure
	// from here on is undone rather than merely reported as refused.
	ChangesHost bool
	// Judges: its failure, when it names interrupted workloads
	// (ErrInterrupted), is a verdict on them; undoing the change cannot
	// bring a process back. Its other failures are undone.
	Judges bool
	// Resume says what `apply --resume` does with the phase.
	Resume ResumeRule
	// JournalSwaps: its journal entries carry the list of swaps, so that a
	// crash during or after it still knows where every backup is.
	JournalSwaps bool
	// Undo: the phase restores the host; a journal that cannot be written
	// is logged, never a reason to stop restoring.
	Undo bool
	// Run does the work; detail, when not empty, is shown and reported.
	// A phase with nothing to do returns Skip(reason): it is reported
	// "skipped", never "done".
	Run func(ctx context.Context) (detail string, err error)
}

// Skip is what a phase's Run returns when it had nothing to do (a canary
// without an image): the runner reports the phase as skipped, with reason
// as its detail, and goes on. It is not a failure.
func Skip(reason string) error { return &skipped{reason: reason} }

type skipped struct{ reason string }

func (s *skipped) Error() string { return "skipped: " + s.reason }

// ResumeRule is what a resumed run does with a phase.
type ResumeRule int

// Resume rules.
const (
	// SkipIfDone: a phase the journal records as done is not redone (it
	// changed the host in the interrupted process).
	SkipIfDone ResumeRule = iota
	// RunAgain: the phase holds this process's state (lock, connections,
	// probes) and runs again.
	RunAgain
	// SkipOnResume: the phase never runs on resume.
	SkipOnResume
)

// PhaseReport is one phase's outcome.
type PhaseReport struct {
	Name       string  `json:"name"`
	Status     string  `json:"status"` // done, failed, skipped
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
	Detail     string  `json:"detail,omitempty"`
}

// Phase statuses.
const (
	PhaseDone    = "done"
	PhaseFailed  = "failed"
	PhaseSkipped = "skipped"
)

// PhaseError is a phase that failed.
type PhaseError struct {
	Phase *Phase
	Err   error
	// NotStarted: the phase never ran (an interrupt came first), so it
	// changed nothing, whatever it would have changed.
	NotStarted bool
}

func (e *PhaseError) Error() string { return e.Phase.Name + ": " + e.Err.Error() }
func (e *PhaseError) Unwrap() error { return e.Err }

// Runner runs phases in order, one line of log and one report per phase,
// journaling each start and end when a journal is set. Apply, rollback and
// enable-live-restore all run through it.
type Runner = runner

// NewRunner returns a runner that logs with logf (nil: silent) and appends
// a report per phase to reports; it keeps no journal.
func NewRunner(logf func(format string, a ...any), reports *[]PhaseReport) *Runner {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &runner{logf: logf, reports: reports}
}

type runner struct {
	run     string // the run's ID, as journaled
	journal *Journal
	logf    func(format string, a ...any)
	reports *[]PhaseReport
	// resumed: the phases the journal records as done by an interrupted
	// process; nil when this is not a resume.
	resumed map[string]bool
	// swaps gives the list of swaps for JournalSwaps phases.
	swaps func() []Swap
	// changed: a ChangesHost phase has started. From then on an interrupt
	// no longer stops the run: stopping between two binaries (or halfway
	// through a rollback) is worse than finishing.
	changed, noted bool
}

// Run runs phases in order and stops at the first failure, which it
// returns as a *PhaseError. Once ctx is done no phase starts — unless a
// phase that changes the host has started: then the run is finished (or
// rolled back) with ctx's cancellation ignored.
func (x *runner) Run(ctx context.Context, phases []Phase) error {
	for i := range phases {
		ph := &phases[i]
		if x.resumed != nil && ph.Resume == SkipOnResume {
			*x.reports = append(*x.reports, PhaseReport{Name: ph.Name, Status: PhaseSkipped, Detail: "not run on resume"})
			continue
		}
		if x.resumed != nil && ph.Resume == SkipIfDone && x.resumed[ph.Name] {
			*x.reports = append(*x.reports, PhaseReport{Name: ph.Name, Status: PhaseSkipped, Detail: "done by the interrupted run"})
			continue
		}
		if err := x.one(ctx, ph); err != nil {
			return err
		}
	}
	return nil
}

func (x *runner) one(ctx context.Context, ph *Phase) error {
	if err := ctx.Err(); err != nil && !ph.Undo && !x.changed {
		return &PhaseError{Phase: ph, Err: fmt.Errorf("not started: %w (nothing more was changed)", context.Cause(ctx)), NotStarted: true}
	}
	if ph.ChangesHost || ph.Undo {
		x.changed = true
	}
	if x.changed {
		if ctx.Err() != nil && !x.noted {
			x.noted = true
			x.logf("[interrupt] %v: the host is already changing, so the run goes on to its end (or its rollback); interrupt again to quit at once", context.Cause(ctx))
		}
		ctx = context.WithoutCancel(ctx)
	}
	begin := time.Now()
	x.logf("[%s] %s", ph.Name, ph.Desc)
	if err := x.record(ph, Entry{Phase: ph.Name, Status: "started"}); err != nil {
		*x.reports = append(*x.reports, PhaseReport{Name: ph.Name, Status: PhaseFailed, Error: err.Error()})
		return &PhaseError{Phase: ph, Err: err}
	}
	detail, err := ph.Run(ctx)
	pr := PhaseReport{Name: ph.Name, Status: PhaseDone, DurationMS: msSince(begin), Detail: detail}
	var skip *skipped
	if errors.As(err, &skip) {
		pr.Status, pr.Detail, err = PhaseSkipped, skip.reason, nil
		x.logf("[%s] skipped: %s", ph.Name, skip.reason)
	} else if err != nil {
		pr.Status, pr.Error = PhaseFailed, err.Error()
		x.logf("[%s] failed: %v", ph.Name, err)
	} else if detail != "" {
		x.logf("[%s] %s", ph.Name, detail)
	}
	jerr := x.record(ph, Entry{Phase: ph.Name, Status: pr.Status, Error: pr.Error})
	if err == nil && jerr != nil {
		pr.Status, pr.Error, err = PhaseFailed, jerr.Error(), jerr
	}
	*x.reports = append(*x.reports, pr)
	if err != nil {
		return &PhaseError{Phase: ph, Err: err}
	}
	return nil
}

// record journals e for ph. A journal that cannot be written stops the run
// before the next change to the host, since a crash after it would leave
// no way back; an undo phase logs it and goes on.
func (x *runner) record(ph *Phase, e Entry) error {
	if x.journal == nil {
		return nil
	}
	e.Run = x.run
	if ph.JournalSwaps && x.swaps != nil {
		e.Swaps = x.swaps()
	}
	err := x.journal.Append(e)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%w (liveswap stops before changing anything more: free space or fix permissions in %s, then `liveswap status`)", err, x.journal.Dir)
	if ph.Undo {
		x.logf("[%s] %v", ph.Name, err)
		return nil
	}
	return err
}
