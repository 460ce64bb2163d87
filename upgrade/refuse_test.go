package upgrade

import (
	"context"
	"strings"
	"testing"

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
