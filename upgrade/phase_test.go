package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/plan"
)

func TestRunner(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		resumed    map[string]bool
		cancel     bool
		cancelIn   string // the phase during which the run is interrupted
		badJournal bool
		phases     []Phase
		wantRan    string
		wantStatus string // the reports' statuses, in order
		wantFailed string // the failed phase, "" for none
		wantDetail string // the first report's detail
	}{
		{name: "all done", phases: []Phase{{Name: "a"}, {Name: "b"}}, wantRan: "a b", wantStatus: "done done"},
		{name: "stops at the first failure", phases: []Phase{{Name: "a"}, {Name: "b", Run: fail(boom)}, {Name: "c"}},
			wantRan: "a b", wantStatus: "done failed", wantFailed: "b"},
		{name: "resume skips what was done and what never reruns", resumed: map[string]bool{"a": true, "b": true},
			phases:  []Phase{{Name: "p", Resume: SkipOnResume}, {Name: "a"}, {Name: "b", Resume: RunAgain}, {Name: "c"}},
			wantRan: "b c", wantStatus: "skipped skipped done done"},
		{name: "no phase starts after an interrupt", cancel: true, phases: []Phase{{Name: "a"}},
			wantRan: "", wantStatus: "", wantFailed: "a"},
		{name: "an undo phase runs after an interrupt", cancel: true, phases: []Phase{{Name: "u", Undo: true}},
			wantRan: "u", wantStatus: "done"},
		{name: "an interrupt before the host changed stops the run", cancelIn: "a",
			phases:  []Phase{{Name: "a"}, {Name: "b", ChangesHost: true}},
			wantRan: "a", wantStatus: "done", wantFailed: "b"},
		{name: "once the host changed, an interrupt lets the run finish", cancelIn: "b",
			phases:  []Phase{{Name: "a"}, {Name: "b", ChangesHost: true}, {Name: "c"}, {Name: "d", Run: notCancelled}},
			wantRan: "a b c d", wantStatus: "done done done done"},
		{name: "a journal that cannot be written stops before the phase", badJournal: true, phases: []Phase{{Name: "a"}},
			wantRan: "", wantStatus: "failed", wantFailed: "a"},
		{name: "an undo phase goes on without its journal", badJournal: true, phases: []Phase{{Name: "u", Undo: true}},
			wantRan: "u", wantStatus: "done"},
		{name: "a phase with nothing to do is skipped, not done, and the run goes on",
			phases:  []Phase{{Name: "a", Run: func(context.Context) (string, error) { return "", Skip("no image") }}, {Name: "b"}},
			wantRan: "a b", wantStatus: "skipped done", wantDetail: "no image"},
		{name: "a wrapped skip is a skip", phases: []Phase{{Name: "a", Run: fail(fmt.Errorf("canary: %w", Skip("no image")))}},
			wantRan: "a", wantStatus: "skipped", wantDetail: "no image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			j, err := OpenJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.badJournal {
				// A folder where the journal file should be: every append fails.
				os.Mkdir(filepath.Join(dir, "journal.jsonl"), 0o700)
			}
			var ran []string
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := range tt.phases {
				ph := &tt.phases[i]
				run := ph.Run
				ph.Run = func(ctx context.Context) (string, error) {
					ran = append(ran, ph.Name)
					if ph.Name == tt.cancelIn {
						cancel()
					}
					if run != nil {
						return run(ctx)
					}
					return "", nil
				}
			}
			var reports []PhaseReport
			x := &runner{run: "r1", journal: j, logf: t.Logf, reports: &reports, resumed: tt.resumed}
			if tt.cancel {
				cancel()
			}
			err = x.Run(ctx, tt.phases)
			var statuses []string
			for _, r := range reports {
				statuses = append(statuses, r.Status)
			}
			if got := strings.Join(ran, " "); got != tt.wantRan {
				t.Errorf("ran %q, want %q", got, tt.wantRan)
			}
			if got := strings.Join(statuses, " "); got != tt.wantStatus {
				t.Errorf("statuses %q, want %q", got, tt.wantStatus)
			}
			if tt.wantDetail != "" && reports[0].Detail != tt.wantDetail {
				t.Errorf("detail %q, want %q", reports[0].Detail, tt.wantDetail)
			}
			if tt.wantStatus == "skipped" {
				// The journal says skipped too: a resume runs the phase again.
				if st, _ := j.Last(); st == nil || st.LastState != PhaseSkipped || st.Done[tt.phases[0].Name] {
					t.Errorf("journal state %+v, want the phase recorded skipped, not done", st)
				}
			}
			var pe *PhaseError
			switch {
			case tt.wantFailed == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantFailed != "" && (!errors.As(err, &pe) || pe.Phase.Name != tt.wantFailed):
				t.Errorf("error %v, want phase %s failed", err, tt.wantFailed)
			}
			if tt.badJournal && !tt.phases[0].Undo && !strings.Contains(err.Error(), "liveswap stops before changing anything more") {
				t.Errorf("journal failure without a remedy: %v", err)
			}
		})
	}
}

// notCancelled fails when the phase's context is done: a phase that runs
// after the host changed must be able to finish its work.
func notCancelled(ctx context.Context) (string, error) {
	return "", ctx.Err()
}

func fail(err error) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return "", err }
}

// TestCanaryPhase: a plan without a canary image reports the canary phase
// skipped with the reason, never done; one with an image runs it.
func TestCanaryPhase(t *testing.T) {
	tests := []struct {
		name       string
		canary     plan.Canary
		wantStatus string
		wantDetail string
	}{
		{"no image", plan.Canary{}, PhaseSkipped, "no image: the plan names no canary.image"},
		{"skip set", plan.Canary{Image: "local/base:1", Skip: true}, PhaseSkipped, "canary.skip is set in the plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{plan: &plan.Plan{Canary: tt.canary}, report: &Report{}}
			var reports []PhaseReport
			x := NewRunner(t.Logf, &reports)
			if err := x.Run(context.Background(), []Phase{{Name: "canary", Run: r.canary}}); err != nil {
				t.Fatal(err)
			}
			if reports[0].Status != tt.wantStatus || !strings.HasPrefix(reports[0].Detail, tt.wantDetail) {
				t.Errorf("report %+v, want %s %q", reports[0], tt.wantStatus, tt.wantDetail)
			}
		})
	}
	// The dry run says the same before anything runs.
	for _, c := range []plan.Canary{{}, {Image: "local/base:1", Command: []string{"/bin/sh", "-c", "true"}}} {
		rep := (&run{plan: &plan.Plan{Canary: c}, report: &Report{}, opts: Options{}}).dryRun(context.Background())
		want := "canary skipped: no image"
		if c.Image != "" {
			want = "canary local/base:1 /bin/sh -c true"
		}
		if !strings.Contains(strings.Join(rep.Steps, "\n"), want) {
			t.Errorf("dry run steps %q lack %q", rep.Steps, want)
		}
	}
}
