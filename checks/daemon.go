package checks

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/plan"
)

// engineChecks ask the running daemon about itself.
func engineChecks() []Check {
	return []Check{
		{ID: "engine.reachable", Description: "the daemon answers on its endpoint and reports its version", Func: checkEngineReachable},
		{ID: "engine.live-restore", Description: "the running daemon has live restore on, so stopping it leaves containers running", Func: checkEngineLiveRestore},
	}
}

// daemonJSONChecks judge the daemon.json the new binary will read.
func daemonJSONChecks() []Check {
	return []Check{
		{ID: "daemon-json.valid", Description: "the new daemon would start with the daemon.json (syntax, keys, types, values)", Func: checkDaemonJSONValid},
		{ID: "daemon-json.host", Description: "what the daemon.json names exists on this host: TLS files, userns-remap user and ranges, group, plugins, runtime paths, storage vs backing file system (host-dependent)", Func: checkDaemonJSONHost},
		{ID: "daemon-json.flag-conflict", Description: "no setting is given both in daemon.json and as an ExecStart flag", Func: checkDaemonJSONConflicts},
		{ID: "daemon-json.live-restore", Description: "live-restore is on in the configuration the new daemon reads", Func: checkDaemonJSONLiveRestore},
		{ID: "daemon-json.dockerd-validate", Description: "the dockerd that will read the daemon.json accepts it itself (dockerd --validate, 23 and newer; weaker than a start, never overrides daemon-json.valid)", Func: checkDockerdValidate},
	}
}

func checkEngineReachable(ctx context.Context, env *Env) Result {
	st, err := env.Status(ctx)
	if err != nil {
		return fail("start the daemon, or point --endpoint at its socket (unix:///path.sock)", "%v", err)
	}
	return ok("%s %s at %s (API %s), %d running container(s)", env.Plan.Target.Kind, st.Version, env.Plan.Target.Endpoint, st.APIVersion, st.Running)
}

func checkEngineLiveRestore(ctx context.Context, env *Env) Result {
	st, err := env.Status(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	if !st.LiveRestore {
		return fail(fmt.Sprintf(`set "live-restore": true in %s and reload the daemon (systemctl reload %s): it applies on SIGHUP without stopping containers`,
			env.Plan.Target.DaemonConfig, env.Plan.Target.Unit),
			"the running daemon has live restore off: stopping it for the upgrade stops its containers (%d running now)", st.Running)
	}
	return ok("the running daemon has live restore on")
}

// Validation is the daemon.json judged by the rules of the daemon that will
// read it.
type Validation struct {
	File     string
	Rules    string // e.g. "dockerd 20.10 rules"
	Findings []daemonjson.Finding
	// LiveRestore is whether file and flags turn live restore on (nil when
	// the file could not be read far enough to tell).
	LiveRestore *bool
	// Note explains a fallback (no ExecStart, rules of the running daemon).
	Note string

	data     []byte    // what was judged ({} for an absent default file); nil when missing
	unjudged *unjudged // why no verdict could be reached
}

// unjudged is why the daemon binary could not judge the file: the check
// that owns the cause ("" for the run of the binary itself) and the error.
type unjudged struct {
	check string
	err   error
}

// blocked is the result of a check on a file nothing could judge: self is
// daemon-json.valid, which reports the cause; the others point at it.
func (v *Validation) blocked(env *Env, self bool) Result {
	u := v.unjudged
	if u.check != "" {
		if r := env.Blocked(u.check, u.err); self || r.Status == Skip {
			return r
		}
	}
	if self {
		return fail("check that the daemon binary runs on this host", "%v", u.err)
	}
	return env.Blocked("daemon-json.valid", u.err)
}

func (v *Validation) notef(format string, a ...any) {
	if v.Note != "" {
		v.Note += "; "
	}
	v.Note += fmt.Sprintf(format, a...)
}

// Finding IDs of the validator that have their own pre-flight check.
var (
	conflictIDs    = []string{daemonjson.IDConflict, daemonjson.IDExecStart}
	liveRestoreIDs = []string{daemonjson.IDLiveRestore}
)

// execStartArgv is the daemon's command line from the unit (nil when the
// unit cannot be read).
func (e *Env) execStartArgv(ctx context.Context) ([]string, error) {
	u, err := e.LoadedUnit(ctx)
	if err != nil {
		return nil, err
	}
	return u.Command()
}

const (
	sourceFlag = "--docker-version"
	sourceNew  = "the new binary's version"
)

// RulesVersion is the daemon version whose daemon.json rules apply: the
// --docker-version override, else the new binary's, else the running
// daemon's.
func (e *Env) RulesVersion(ctx context.Context) (version, source string) {
	return daemonjson.RulesFor(
		daemonjson.Candidate{Source: sourceFlag, Version: e.Options.DockerVersion, Explicit: true},
		daemonjson.Candidate{Source: sourceNew, Ask: func() (string, error) {
			v, err := e.NewVersion(ctx)
			return v.Version, err
		}},
		daemonjson.Candidate{Source: "the running daemon's version: the new binary's is unknown", Ask: func() (string, error) {
			st, err := e.Status(ctx)
			return st.Version, err
		}},
		daemonjson.Candidate{Source: "the oldest rule set: no version known", Version: daemonjson.V2010.String()},
	)
}

// judge is the daemon binary that reads the configuration after the
// upgrade: the new binary once it passed the binary checks, else (no new
// binary) the one the unit runs. blocker names the check that owns a
// failure.
func (e *Env) judge(ctx context.Context) (b daemonjson.Binary, blocker string, err error) {
	b.Validated = e.Plan.Spec().Config.Validated
	d := e.Plan.Daemon()
	if d != nil && d.NewFile != "" {
		nv, err := e.NewVersion(ctx)
		if err != nil {
			return b, "binary.version", err
		}
		b.Path, b.VersionOutput, b.Version = d.NewFile, nv.Output, nv.Version
		return b, "", nil
	}
	if d != nil {
		b.Path = d.Path
	}
	if b.Path == "" {
		argv, err := e.execStartArgv(ctx)
		if err != nil {
			return b, "unit.loaded", err
		}
		b.Path = argv[0]
	}
	v, err := e.currentVersion(ctx, b.Path)
	if err != nil && v.Output == "" {
		return b, "binary.exists", err
	}
	// A build that prints no version (dev) is still asked: the kind's rule
	// or its --help says whether it can judge.
	b.VersionOutput, b.Version = v.Output, v.Version
	return b, "", nil
}

// currentVersion runs `path --version` for a binary already installed
// (the unit runs it as root anyway), once per run.
func (e *Env) currentVersion(ctx context.Context, path string) (BinaryVersion, error) {
	return e.CurrentVersion(ctx, path, []string{"--version"})
}

// CurrentVersion runs an installed binary with its version arguments,
// once per run.
func (e *Env) CurrentVersion(ctx context.Context, path string, args []string) (BinaryVersion, error) {
	e.mu.Lock()
	if e.versions == nil {
		e.versions = map[string]memo[BinaryVersion]{}
	}
	m, done := e.versions[path]
	e.mu.Unlock()
	if done {
		return m.v, m.err
	}
	v, err := RunVersionArgs(ctx, path, args, e.Options.VersionTimeout)
	e.mu.Lock()
	e.versions[path] = memo[BinaryVersion]{done: true, v: v, err: err}
	e.mu.Unlock()
	return v, err
}

// Validation runs the daemon.json validator once per run.
func (e *Env) Validation(ctx context.Context) (*Validation, error) {
	return e.validation.get(&e.mu, func() (*Validation, error) {
		path := e.Plan.Target.DaemonConfig
		argv, argErr := e.execStartArgv(ctx)
		data, err := os.ReadFile(path)
		explicit := plan.ConfigFileFlag(argv) != ""
		absent := false
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("reading %s: %w", path, err)
			}
			if explicit {
				v := &Validation{File: path, Findings: []daemonjson.Finding{{ID: "daemon-json.missing", Severity: daemonjson.Fail,
					Message: fmt.Sprintf("%s does not exist, and the unit's ExecStart names it with --config-file: the daemon refuses to start", path),
					Remedy:  "create the file (at least {\"live-restore\": true}) or fix --daemon-config"}}}
				return v, nil
			}
			// The default path may be absent: the daemon uses its defaults.
			data, absent = []byte("{}"), true
		}
		var v *Validation
		if !e.Plan.Spec().Config.DockerRules {
			v = e.validateByBinary(ctx, path, data, argv)
		} else {
			swarm, _ := e.Swarm(ctx)
			version, source := e.RulesVersion(ctx)
			v = validateDockerd(path, data, argv, version, swarm)
			if source != sourceNew && source != sourceFlag {
				v.notef("rules picked by %s", source)
			}
		}
		v.data = data
		if absent {
			v.notef("the file is absent: the daemon uses its defaults")
		}
		if argErr != nil {
			v.notef("ExecStart flags not checked: the unit could not be read")
		}
		if cf := plan.ConfigFileFlag(argv); cf != "" && cf != path {
			v.Findings = append(v.Findings, daemonjson.Finding{ID: "daemon-json.path", Severity: daemonjson.Warn,
				Message: fmt.Sprintf("the unit's ExecStart reads %s, not %s", cf, path),
				Remedy:  "validate the file the daemon reads: --daemon-config " + cf})
		}
		return v, nil
	})
}

// Swarm reports whether the daemon is part of a swarm; false for a kind
// that has no swarm mode.
func (e *Env) Swarm(ctx context.Context) (bool, error) {
	if !e.Plan.Spec().Swarm {
		return false, nil
	}
	c, err := e.Engine(ctx)
	if err != nil {
		return false, err
	}
	if _, err := e.Status(ctx); err != nil {
		return false, err
	}
	return c.Swarm(ctx)
}

func validateDockerd(path string, data []byte, argv []string, version string, swarm bool) *Validation {
	rep := daemonjson.Validate(data, daemonjson.Options{File: path, DockerVersion: version, ExecStart: argv, Swarm: swarm})
	v := &Validation{File: path, Rules: "dockerd " + rep.DockerVersion + " rules", Findings: rep.Findings}
	for _, f := range rep.Findings {
		if f.ID == daemonjson.IDLiveRestore {
			on := f.Severity == daemonjson.OK
			v.LiveRestore = &on
		}
	}
	return v
}

// validateByBinary asks the daemon binary itself (`--validate`), with the
// unit's flags: for a kind without Docker's rules its verdict is the only
// one.
func (e *Env) validateByBinary(ctx context.Context, path string, data []byte, argv []string) *Validation {
	kind := e.Plan.Target.Kind
	v := &Validation{File: path, Rules: kind + " rules"}
	b, blocker, err := e.judge(ctx)
	if err != nil {
		v.unjudged = &unjudged{check: blocker, err: err}
		return v
	}
	var flags []string
	if len(argv) > 1 {
		flags = argv[1:]
	}
	res, err := b.Validate(ctx, path, data, flags)
	if err != nil {
		v.unjudged = &unjudged{err: err}
		return v
	}
	v.Rules, v.Findings, v.LiveRestore = res.Rules(kind), res.Findings(), res.LiveRestore
	return v
}

// findings selects the findings whose ID is (or is not) in ids.
func (v *Validation) findings(ids []string, in bool) []daemonjson.Finding {
	var out []daemonjson.Finding
	for _, f := range v.Findings {
		match := false
		for _, id := range ids {
			if f.ID == id {
				match = true
			}
		}
		if match == in {
			out = append(out, f)
		}
	}
	return out
}

// summarize turns findings into one result: the worst status, the first
// problem as message (with a count of the others), every problem in
// Details.
func (v *Validation) summarize(fs []daemonjson.Finding, okMsg string) Result {
	var statuses []Status
	var problems []daemonjson.Finding
	for _, f := range fs {
		statuses = append(statuses, statusOf(f.Severity))
		if f.Severity == daemonjson.Warn || f.Severity == daemonjson.Fail {
			problems = append(problems, f)
		}
	}
	if len(problems) == 0 {
		r := ok("%s", okMsg)
		if v.Note != "" {
			r.Message += " (" + v.Note + ")"
		}
		return r
	}
	// Failures first: they are what stops the daemon.
	for i := range problems {
		for j := i + 1; j < len(problems); j++ {
			if problems[j].Severity == daemonjson.Fail && problems[i].Severity != daemonjson.Fail {
				problems[i], problems[j] = problems[j], problems[i]
			}
		}
	}
	first := problems[0]
	r := Result{Status: worst(statuses...), Message: describe(first, v.File), Remedy: first.Remedy}
	if len(problems) > 1 {
		r.Message += fmt.Sprintf(" (and %d more)", len(problems)-1)
		for _, f := range problems {
			line := fmt.Sprintf("[%s] %s", f.Severity, describe(f, v.File))
			if f.Remedy != "" {
				line += " -> " + f.Remedy
			}
			r.Details = append(r.Details, line)
		}
	}
	if v.Note != "" {
		r.Details = append(r.Details, v.Note)
	}
	return r
}

// describe is a finding as one line: where, then what.
func describe(f daemonjson.Finding, file string) string {
	return f.Location(file) + ": " + f.Message
}

// statusOf is a validator severity as a check status.
func statusOf(s daemonjson.Severity) Status {
	switch s {
	case daemonjson.Fail:
		return Fail
	case daemonjson.Warn:
		return Warn
	}
	return OK
}

func checkDaemonJSONValid(ctx context.Context, env *Env) Result {
	v, err := env.Validation(ctx)
	if err != nil {
		return fail("make the file readable, or point --daemon-config at the daemon's daemon.json", "%v", err)
	}
	if v.unjudged != nil {
		return v.blocked(env, true)
	}
	return v.summarize(v.findings(append(conflictIDs, liveRestoreIDs...), false),
		fmt.Sprintf("%s: the new daemon would start with it (%s)", v.File, v.Rules))
}

func checkDaemonJSONConflicts(ctx context.Context, env *Env) Result {
	v, err := env.Validation(ctx)
	if err != nil {
		return env.Blocked("daemon-json.valid", err)
	}
	if v.unjudged != nil {
		return v.blocked(env, false)
	}
	return v.summarize(v.findings(conflictIDs, true), "no setting is both in "+v.File+" and in ExecStart")
}

// checkDaemonJSONLiveRestore: the validator alone only warns about
// live-restore (dockerd starts without it), but for an upgrade it decides
// whether the containers survive, so pre-flight fails.
func checkDaemonJSONLiveRestore(ctx context.Context, env *Env) Result {
	v, err := env.Validation(ctx)
	if err != nil {
		return env.Blocked("daemon-json.valid", err)
	}
	if v.unjudged != nil {
		return v.blocked(env, false)
	}
	remedy := fmt.Sprintf(`set "live-restore": true in %s and reload the daemon (systemctl reload %s); it applies without stopping containers`, v.File, env.Plan.Target.Unit)
	for _, f := range v.findings(liveRestoreIDs, true) {
		if f.Severity != daemonjson.OK {
			if f.Remedy != "" {
				remedy = f.Remedy
			}
			return fail(remedy, "%s", describe(f, v.File))
		}
	}
	switch {
	case v.LiveRestore == nil:
		return env.Blocked("daemon-json.valid", fmt.Errorf("%s could not be read far enough to find live-restore", v.File))
	case !*v.LiveRestore:
		return fail(remedy, "%s: live-restore is off: the upgrade would stop every container", v.File)
	}
	return ok("%s: live-restore is on", v.File)
}

// checkDockerdValidate asks the dockerd that will read the file, when it
// can (23+): a second opinion beside the rules, run on the same copy of
// the file with the unit's flags; it never turns a refusal into a pass.
func checkDockerdValidate(ctx context.Context, env *Env) Result {
	v, none := dockerFile(ctx, env)
	if v == nil {
		return none
	}
	// The new binary runs only once it passed the file, owner and
	// checksum gate.
	b, blocker, err := env.judge(ctx)
	if err != nil {
		return env.Blocked(blocker, err)
	}
	var flags []string
	if argv, err := env.execStartArgv(ctx); err == nil && len(argv) > 1 {
		flags = argv[1:]
	}
	res, err := b.Validate(ctx, v.File, v.data, flags)
	if err != nil {
		return fail("check that the binary runs on this host", "%v", err)
	}
	f := res.Finding()
	switch f.Severity {
	case daemonjson.Fail:
		return fail(f.Remedy, "%s", f.Message)
	case daemonjson.Warn:
		return warn(f.Remedy, "%s", f.Message)
	}
	return ok("%s", f.Message)
}

// dockerFile is the daemon.json a check beside daemon-json.valid judges
// for dockerd, or the result that says why there is none.
func dockerFile(ctx context.Context, env *Env) (*Validation, Result) {
	if !env.Plan.Spec().Config.DockerRules {
		return nil, skip("not judged by Docker's rules: daemon-json.valid asked the daemon binary")
	}
	v, err := env.Validation(ctx)
	if err != nil {
		return nil, env.Blocked("daemon-json.valid", err)
	}
	if v.data == nil {
		return nil, env.Blocked("daemon-json.valid", fmt.Errorf("%s does not exist", v.File))
	}
	return v, Result{}
}
