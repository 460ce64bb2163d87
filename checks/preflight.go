package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	list = append(list, packageChecks()...)
	list = append(list, daemonJSONChecks()...)
	list = append(list, workloadChecks()...)
	list = append(list, hostChecks()...)
	return list
}

func checkVersionPolicy(ctx context.Context, env *Env) Result {
	bins := newBinaries(env.Plan)
	if len(bins) == 0 {
		return skip(noNewBinary)
	}
	pol := env.Plan.Policy
	allow := Allow{Minor: pol.AllowMinor, Major: pol.AllowMajor, Downgrade: pol.AllowDowngrade}
	// One verdict per component, each by its own project's rules and its
	// own running version; the worst decides.
	var results []Result
	for _, b := range bins {
		c := env.Plan.ComponentOf(b)
		nv, err := env.BinaryVersion(ctx, b)
		if err != nil {
			return env.Blocked("binary.version", err)
		}
		from, blocker, err := env.runningVersion(ctx, b)
		if err != nil {
			return env.Blocked(blocker, err)
		}
		r := VersionPolicy(from, nv.Version, c.Versions, allow)
		if len(bins) > 1 || c.Name != env.Plan.DaemonComponent() {
			r.Message = c.Name + " " + r.Message
		}
		results = append(results, r)
	}
	return joinVerdicts(results)
}

// runningVersion is the version of b's component that runs now: the
// daemon's as the engine reports it, another component's as its installed
// file reports it (the unit runs that file). blocker names the check that
// owns a failure.
func (e *Env) runningVersion(ctx context.Context, b plan.Binary) (version, blocker string, err error) {
	c := e.Plan.ComponentOf(b)
	if c.Name == e.Plan.DaemonComponent() && e.Plan.UnitOf(b) == e.Plan.Target.Unit {
		st, err := e.Status(ctx)
		return st.Version, "engine.reachable", err
	}
	v, err := e.CurrentVersion(ctx, b.Path, c.VersionArgs)
	if err != nil {
		return "", "binary.exists", fmt.Errorf("%s: %w", c.Name, err)
	}
	return v.Version, "", nil
}

// joinVerdicts joins several verdicts of one check: the worst status, every
// message, the remedies of the verdicts with that status.
func joinVerdicts(rs []Result) Result {
	if len(rs) == 1 {
		return rs[0]
	}
	var statuses []Status
	for _, r := range rs {
		statuses = append(statuses, r.Status)
	}
	out := Result{Status: worst(statuses...)}
	var msgs, remedies []string
	for _, r := range rs {
		msgs = append(msgs, r.Message)
		if r.Status == out.Status && r.Remedy != "" {
			remedies = append(remedies, r.Remedy)
		}
		out.Details = append(out.Details, r.Details...)
	}
	out.Message, out.Remedy = strings.Join(msgs, "; "), strings.Join(remedies, "; ")
	return out
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
	if d := p.Daemon(); d != nil {
		rep.Target.Binary, rep.Target.NewBinary = d.Path, d.NewFile
	} else if len(p.Binaries) > 0 {
		rep.Target.Binary, rep.Target.NewBinary = p.Binaries[0].Path, p.Binaries[0].NewFile
	}
	if st, ok := env.status.peek(&env.mu); ok {
		rep.FromVersion = st.Version
	}
	if d := p.Daemon(); d != nil {
		env.mu.Lock()
		if m, ok := env.versions[d.NewFile]; ok && m.err == nil {
			rep.ToVersion = m.v.Version
		}
		env.mu.Unlock()
	}
	return rep, nil
}
