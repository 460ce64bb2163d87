package checks

import (
	"context"
	"errors"

	"github.com/liveswap/liveswap/plan"
)

// PreflightChecks returns the checks of `liveswap preflight` (and of the
// preflight phase of `liveswap apply`), in the order they run and are shown.
func PreflightChecks() []Check {
	var list []Check
	list = append(list, unitChecks()...)
	list = append(list, engineChecks()...)
	list = append(list, binaryChecks()...)
	list = append(list, Check{ID: "version.policy", Description: "the running and new versions are a patch step (or --allow-minor / --allow-downgrade)", Func: checkVersionPolicy})
	list = append(list, daemonJSONChecks()...)
	list = append(list, workloadChecks()...)
	list = append(list, hostChecks()...)
	return list
}

func checkVersionPolicy(ctx context.Context, env *Env) Result {
	if len(newBinaries(env.Plan)) == 0 {
		return skip(noNewBinary)
	}
	st, err := env.Status(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	nv, err := env.NewVersion(ctx)
	if err != nil {
		return env.Blocked("binary.version", err)
	}
	pol := env.Plan.Policy
	return VersionPolicy(st.Version, nv.Version, env.Plan.Spec().Versions, Allow{Minor: pol.AllowMinor, Major: pol.AllowMajor, Downgrade: pol.AllowDowngrade})
}

// Preflight runs every pre-flight check of plan p and returns the report;
// rep.Failed() says whether the upgrade must be refused. The error is for
// bad input only (no plan, an unknown --skip ID): check failures, an
// unreachable daemon or systemd included, are results in the report.
//
// The plan's policy.skipChecks are skipped along with o.Skip. The run
// touches nothing: it reads the unit, asks the engine, reads files, and
// executes the new binary with --version only after it passed the file,
// owner and checksum checks.
func Preflight(ctx context.Context, p *plan.Plan, o Options) (*Report, error) {
	if p == nil {
		return nil, errors.New("preflight: no plan")
	}
	list := PreflightChecks()
	skip := append(append([]string(nil), o.Skip...), p.Policy.Skip...)
	if err := ValidateSkip(list, skip); err != nil {
		return nil, err
	}
	env := NewEnv(p, o)
	defer env.Close()
	rep := Run(ctx, env, list, skip)
	rep.Target = TargetInfo{Kind: p.Target.Kind, Unit: p.Target.Unit, Systemd: p.Target.Systemd,
		Endpoint: p.Target.Endpoint, DaemonConfig: p.Target.DaemonConfig}
	if len(p.Binaries) > 0 {
		rep.Target.Binary, rep.Target.NewBinary = p.Binaries[0].Path, p.Binaries[0].NewFile
	}
	if st, ok := env.status.peek(&env.mu); ok {
		rep.FromVersion = st.Version
	}
	if len(p.Binaries) > 0 {
		env.mu.Lock()
		if m, ok := env.versions[p.Binaries[0].NewFile]; ok && m.err == nil {
			rep.ToVersion = m.v.Version
		}
		env.mu.Unlock()
	}
	return rep, nil
}
