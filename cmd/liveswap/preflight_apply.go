package main

import (
	"context"

	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// preflightForApply runs the pre-flight checks inside `apply`.
var preflightForApply upgrade.PreflightFunc = func(ctx context.Context, p *plan.Plan) ([]upgrade.CheckResult, bool, error) {
	return nil, false, nil
}
