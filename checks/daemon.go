package checks

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/plan"
	lsruntime "github.com/liveswap/liveswap/runtime"
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
		{ID: "daemon-json.flag-conflict", Description: "no setting is given both in daemon.json and as an ExecStart flag", Func: checkDaemonJSONConflicts},
		{ID: "daemon-json.live-restore", Description: "live-restore is on in the configuration the new daemon reads", Func: checkDaemonJSONLiveRestore},
		{ID: "daemon-json.dockerd-validate", Description: "the new dockerd accepts the daemon.json itself (dockerd --validate, 23 and newer)", Func: checkDockerdValidate},
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

// Finding is one verdict of the daemon.json validator, in the checks'
// terms.
type Finding struct {
	ID      string // the validator's finding ID, e.g. daemon-json.flag-conflict
	Status  Status
	Key     string
	Line    int
	Col     int
	Message string
	Remedy  string
}

func (f Finding) String(file string) string {
	loc := file
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", file, f.Line, f.Col)
	}
	return loc + ": " + f.Message
}

// Validation is the daemon.json judged by the rules of the daemon that will
// read it.
type Validation struct {
	File     string
	Rules    string // e.g. "dockerd 20.10 rules"
	Findings []Finding
	// LiveRestore is whether file and flags turn live restore on (nil when
	// the file could not be read far enough to tell).
	LiveRestore *bool
	// Note explains a fallback (no ExecStart, rules of the running daemon).
	Note string
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
	if e.Options.DockerVersion != "" {
		return e.Options.DockerVersion, sourceFlag
	}
	if v, err := e.NewVersion(ctx); err == nil && v.Version != "" {
		return v.Version, sourceNew
	}
	if st, err := e.Status(ctx); err == nil && st.Version != "" {
		return st.Version, "the running daemon's version: the new binary's is unknown"
	}
	return "", "the oldest rule set: no version known"
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
				v := &Validation{File: path, Findings: []Finding{{ID: "daemon-json.missing", Status: Fail,
					Message: fmt.Sprintf("%s does not exist, and the unit's ExecStart names it with --config-file: the daemon refuses to start", path),
					Remedy:  "create the file (at least {\"live-restore\": true}) or fix --daemon-config"}}}
				return v, nil
			}
			// The default path may be absent: the daemon uses its defaults.
			data, absent = []byte("{}"), true
		}
		var v *Validation
		if !e.Plan.Spec().Config.DockerRules {
			v = validateLiveswapd(path, data, argv)
		} else {
			swarm, _ := e.Swarm(ctx)
			version, source := e.RulesVersion(ctx)
			v = validateDockerd(path, data, argv, version, swarm)
			if source != sourceNew && source != sourceFlag {
				v.notef("rules picked by %s", source)
			}
		}
		if absent {
			v.notef("the file is absent: the daemon uses its defaults")
		}
		if argErr != nil {
			v.notef("ExecStart flags not checked: the unit could not be read")
		}
		if cf := plan.ConfigFileFlag(argv); cf != "" && cf != path {
			v.Findings = append(v.Findings, Finding{ID: "daemon-json.path", Status: Warn,
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
	v := &Validation{File: path, Rules: "dockerd " + rep.DockerVersion + " rules"}
	for _, f := range rep.Findings {
		s := map[daemonjson.Severity]Status{daemonjson.OK: OK, daemonjson.Warn: Warn, daemonjson.Fail: Fail}[f.Severity]
		v.Findings = append(v.Findings, Finding{ID: f.ID, Status: s, Key: f.Key, Line: f.Line, Col: f.Col, Message: f.Message, Remedy: f.Remedy})
		if f.ID == daemonjson.IDLiveRestore {
			on := f.Severity == daemonjson.OK
			v.LiveRestore = &on
		}
	}
	return v
}

// validateLiveswapd loads the file with liveswapd's own configuration code
// (built into this liveswap), flags from the unit included.
func validateLiveswapd(path string, data []byte, argv []string) *Validation {
	v := &Validation{File: path, Rules: "liveswapd rules"}
	fs := flag.NewFlagSet("liveswapd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("version", false, "")
	fs.Bool("v", false, "")
	flags := lsruntime.NewFlags(fs)
	var args []string
	if len(argv) > 1 {
		args = argv[1:]
	}
	if err := fs.Parse(args); err != nil {
		v.Findings = append(v.Findings, Finding{ID: daemonjson.IDExecStart, Status: Fail,
			Message: "ExecStart: " + err.Error(), Remedy: "fix the flags of the unit's ExecStart"})
		return v
	}
	tmp, err := os.CreateTemp("", "liveswap-daemon-json-")
	if err != nil {
		v.Findings = append(v.Findings, Finding{ID: "daemon-json.valid", Status: Fail, Message: err.Error()})
		return v
	}
	defer os.Remove(tmp.Name())
	tmp.Write(data)
	tmp.Close()
	// Load a copy so that a missing default file reads as {}; messages name
	// the real path.
	flags.ConfigFile = tmp.Name()
	cfg, err := flags.Load()
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), tmp.Name(), path)
		id, remedy := "daemon-json.valid", "fix "+path
		var ce *lsruntime.ConfigError
		line, col := 0, 0
		if errors.As(err, &ce) {
			line, col = ce.Line, ce.Col
			if strings.Contains(ce.Msg, "both as a flag") {
				id, remedy = daemonjson.IDConflict, "remove the setting from the unit's ExecStart or from "+path
			}
		}
		v.Findings = append(v.Findings, Finding{ID: id, Status: Fail, Line: line, Col: col, Message: msg, Remedy: remedy})
		return v
	}
	on := cfg.LiveRestore
	v.LiveRestore = &on
	v.Findings = append(v.Findings, Finding{ID: "daemon-json.valid", Status: OK, Message: "liveswapd accepts the file"})
	return v
}

// findings selects the findings whose ID is (or is not) in ids.
func (v *Validation) findings(ids []string, in bool) []Finding {
	var out []Finding
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
func (v *Validation) summarize(fs []Finding, okMsg string) Result {
	var statuses []Status
	var problems []Finding
	for _, f := range fs {
		statuses = append(statuses, f.Status)
		if f.Status == Warn || f.Status == Fail {
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
			if problems[j].Status == Fail && problems[i].Status != Fail {
				problems[i], problems[j] = problems[j], problems[i]
			}
		}
	}
	first := problems[0]
	r := Result{Status: worst(statuses...), Message: first.String(v.File), Remedy: first.Remedy}
	if len(problems) > 1 {
		r.Message += fmt.Sprintf(" (and %d more)", len(problems)-1)
		for _, f := range problems {
			line := fmt.Sprintf("[%s] %s", f.Status, f.String(v.File))
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

func checkDaemonJSONValid(ctx context.Context, env *Env) Result {
	v, err := env.Validation(ctx)
	if err != nil {
		return fail("make the file readable, or point --daemon-config at the daemon's daemon.json", "%v", err)
	}
	return v.summarize(v.findings(append(conflictIDs, liveRestoreIDs...), false),
		fmt.Sprintf("%s: the new daemon would start with it (%s)", v.File, v.Rules))
}

func checkDaemonJSONConflicts(ctx context.Context, env *Env) Result {
	v, err := env.Validation(ctx)
	if err != nil {
		return env.Blocked("daemon-json.valid", err)
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
	remedy := fmt.Sprintf(`set "live-restore": true in %s and reload the daemon (systemctl reload %s); it applies without stopping containers`, v.File, env.Plan.Target.Unit)
	for _, f := range v.findings(liveRestoreIDs, true) {
		if f.Status != OK {
			if f.Remedy != "" {
				remedy = f.Remedy
			}
			return fail(remedy, "%s", f.String(v.File))
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

// checkDockerdValidate asks the new dockerd itself, when it can (23+): its
// own rules are the final word on the file it will read.
func checkDockerdValidate(ctx context.Context, env *Env) Result {
	if !env.Plan.Spec().Config.DockerRules {
		return skip("not judged by Docker's rules: daemon-json.valid asked the daemon binary")
	}
	bins := newBinaries(env.Plan)
	if len(bins) == 0 {
		return skip(noNewBinary)
	}
	// Runs the binary only if it passed the file, owner and checksum gate.
	nv, err := env.NewVersion(ctx)
	if err != nil {
		return env.Blocked("binary.version", err)
	}
	var flags []string
	if argv, err := env.execStartArgv(ctx); err == nil && len(argv) > 1 {
		flags = argv[1:] // ValidateWithBinary drops their --config-file
	}
	res, err := daemonjson.ValidateWithKnownVersion(ctx, bins[0].NewFile, nv.Output, env.Plan.Target.DaemonConfig, flags...)
	if err != nil {
		return fail("check that the new binary runs on this host", "%v", err)
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
