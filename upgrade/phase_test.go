package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunner(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		resumed    map[string]bool
		cancel     bool
		badJournal bool
		phases     []Phase
		wantRan    string
		wantStatus string // the reports' statuses, in order
		wantFailed string // the failed phase, "" for none
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
		{name: "a journal that cannot be written stops before the phase", badJournal: true, phases: []Phase{{Name: "a"}},
			wantRan: "", wantStatus: "failed", wantFailed: "a"},
		{name: "an undo phase goes on without its journal", badJournal: true, phases: []Phase{{Name: "u", Undo: true}},
			wantRan: "u", wantStatus: "done"},
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
			for i := range tt.phases {
				ph := &tt.phases[i]
				run := ph.Run
				ph.Run = func(ctx context.Context) (string, error) {
					ran = append(ran, ph.Name)
					if run != nil {
						return run(ctx)
					}
					return "", nil
				}
			}
			var reports []PhaseReport
			x := &runner{run: "r1", journal: j, logf: t.Logf, reports: &reports, resumed: tt.resumed}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			defer cancel()
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

func fail(err error) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return "", err }
}
