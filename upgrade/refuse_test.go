package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/plan"
)

// validPlan is a defaulted plan that passes Validate; nothing of it exists.
func validPlan(t *testing.T) *plan.Plan {
	t.Helper()
	p := &plan.Plan{Target: plan.Target{Kind: plan.Liveswapd, Unit: "x.service", Systemd: "user", Endpoint: "unix:///nonexistent.sock"},
		Binaries: []plan.Binary{{Path: "/nonexistent/liveswapd", NewFile: "/nonexistent/new", SHA256: strings.Repeat("0", 64)}}}
	p.Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRefusedBeforeTouching: a dry run whose pre-flight fails reports
// refused (exit 1), and apply refuses while the journal's last run
// stopped after swapping binaries — both before anything on the host.
func TestRefusedBeforeTouching(t *testing.T) {
	failing := func(context.Context, *plan.Plan) ([]CheckResult, bool, error) {
		return []CheckResult{{ID: "engine.live-restore", Status: "fail", Message: "live restore is off"}}, true, nil
	}
	t.Run("dry run with a failing check", func(t *testing.T) {
		rep, err := Apply(context.Background(), validPlan(t), Options{DryRun: true, StateDir: t.TempDir(), Preflight: failing})
		if err != nil || rep.Result != Refused || rep.ExitCode() != 1 {
			t.Fatalf("dry run: %v, result %s (exit %d), want refused (exit 1)", err, rep.Result, rep.ExitCode())
		}
	})
	t.Run("the last run stopped after its swap", func(t *testing.T) {
		dir := t.TempDir()
		j, err := OpenJournal(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []Entry{{Run: "r0", Phase: "lock", Status: "begin", Plan: validPlan(t)}, {Run: "r0", Phase: "swap", Status: "done"}} {
			if err := j.Append(e); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := Apply(context.Background(), validPlan(t), Options{StateDir: dir})
		if err != nil || rep.Result != Refused || !strings.Contains(rep.Error, "stopped after swapping") || !strings.Contains(rep.Error, "--resume") {
			t.Fatalf("apply over an unfinished run: %v, result %s, error %q; want refused naming the run and the way out", err, rep.Result, rep.Error)
		}
	})
}

// canaryEngine is an engine whose canary ends as told; nothing else of it
// is used by the canary phase.
type canaryEngine struct {
	engine.Engine
	err error
	ran *engine.Canary
}

func (e *canaryEngine) RunCanary(_ context.Context, c engine.Canary) error {
	e.ran = &c
	return e.err
}

// TestCanaryVerdict: a canary the new daemon cannot run fails the phase;
// one it runs is reported with what ran.
func TestCanaryVerdict(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"exits 0", nil, false},
		{"cannot be created", errors.New("creating canary: no such image"), true},
		{"exits 1", errors.New("canary exited 1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := &canaryEngine{err: tt.err}
			r := &run{plan: &plan.Plan{Canary: plan.Canary{Image: "local/base:1", Command: []string{"/bin/sh", "-c", "true"}}}, eng: eng, report: &Report{Run: "R1"}}
			detail, err := r.canary(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("canary: %q, %v; want error %v", detail, err, tt.wantErr)
			}
			if eng.ran == nil || eng.ran.Image != "local/base:1" {
				t.Fatalf("the canary did not run the plan's image: %+v", eng.ran)
			}
			if err == nil && !strings.Contains(detail, "ran local/base:1 /bin/sh -c true") {
				t.Errorf("detail %q does not say what ran", detail)
			}
		})
	}
}

// TestSwapFailureChangesHost: a swap that fails after its first step (the
// backup link made, the rename refused) has touched the host: the run ends
// failed (exit 4), never refused ("nothing was touched"), and the target
// still names the old binary.
func TestSwapFailureChangesHost(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "liveswapd")
	if err := os.WriteFile(path, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A folder where the staged file should be: the rename onto the
	// target fails after the backup link is made.
	staged := filepath.Join(dir, "staged")
	if err := os.MkdirAll(filepath.Join(staged, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := newRun(validPlan(t), Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r.swaps = []Swap{{Path: path, Staged: staged, Backup: backupName(path, "1.0.0")}}
	r.rn = r.newRunner(nil)
	var swap Phase
	for _, ph := range r.phases() {
		if ph.Name == "swap" {
			swap = ph
		}
	}
	err = r.rn.Run(context.Background(), []Phase{swap})
	if err == nil {
		t.Fatal("the swap succeeded; the test needs it to fail")
	}
	rep := r.fail(context.Background(), err)
	if rep.Result != Failed || rep.ExitCode() != 4 {
		t.Errorf("a swap failed halfway ends %s (exit %d), want failed (exit 4): %s", rep.Result, rep.ExitCode(), rep.Error)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("target holds %q, want the old binary", got)
	}
}

// TestInterruptBeforeSwapIsRefused: an interrupt that keeps the swap from
// starting changed nothing: refused (exit 1), not failed.
func TestInterruptBeforeSwapIsRefused(t *testing.T) {
	r, err := newRun(validPlan(t), Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r.rn = r.newRunner(nil)
	var swap Phase
	for _, ph := range r.phases() {
		if ph.Name == "swap" {
			swap = ph
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := r.fail(ctx, r.rn.Run(ctx, []Phase{swap}))
	if rep.Result != Refused || rep.ExitCode() != 1 {
		t.Errorf("interrupted before the swap: %s (exit %d), want refused (exit 1): %s", rep.Result, rep.ExitCode(), rep.Error)
	}
}
