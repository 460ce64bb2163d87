package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// profileApply runs one more apply in this process, with the real
// pre-flight checks as `liveswap apply` wires them, under the CPU profiler,
// and returns its report: where liveswap itself spends CPU during apply.
// The figures of the tables come from the CLI runs, not from this one.
func (b *bed) profileApply(path string) (*upgrade.Report, error) {
	// Reach the manager as the CLI runs do: by XDG_RUNTIME_DIR alone.
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	os.Setenv("XDG_RUNTIME_DIR", b.sd.RuntimeDir)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	state := filepath.Join(b.t.TempDir(), "state")
	opts := upgrade.Options{StateDir: state, Preflight: func(ctx context.Context, p *plan.Plan) ([]upgrade.CheckResult, bool, error) {
		rep, err := checks.Preflight(ctx, p, checks.Options{StateDir: state})
		if err != nil {
			return nil, false, err
		}
		var out []upgrade.CheckResult
		for _, r := range rep.Results {
			out = append(out, upgrade.CheckResult{ID: r.ID, Status: string(r.Status), Message: r.Message, Remedy: r.Remedy})
		}
		return out, rep.Failed(), nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := b.sd.Conn().ResetFailedUnitContext(ctx, b.unit); err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	rep, err := upgrade.Apply(ctx, b.plan, opts)
	pprof.StopCPUProfile()
	if err != nil {
		return nil, err
	}
	if rep.Result != upgrade.Upgraded {
		return rep, fmt.Errorf("profiled apply: %s: %s", rep.Result, rep.Error)
	}
	return rep, nil
}
