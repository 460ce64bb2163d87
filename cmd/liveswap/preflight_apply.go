package main

import (
	"context"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// preflightFor runs the pre-flight checks as apply's first phase, with the
// same state folder (the host.lock check probes apply's lock).
func preflightFor(stateDir string, skip []string) upgrade.PreflightFunc {
	return func(ctx context.Context, p *plan.Plan) ([]upgrade.CheckResult, bool, error) {
		rep, err := checks.Preflight(ctx, p, checks.Options{StateDir: stateDir, Skip: skip})
		if err != nil {
			return nil, false, err
		}
		out := make([]upgrade.CheckResult, 0, len(rep.Results))
		for _, r := range rep.Results {
			out = append(out, upgrade.CheckResult{ID: r.ID, Status: string(r.Status), Message: r.Message, Remedy: r.Remedy})
		}
		return out, rep.Failed(), nil
	}
}
