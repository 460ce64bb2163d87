package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

// ValidateOptions holds what `liveswap validate` needs.
type ValidateOptions struct {
	Out, Err io.Writer

	File          string
	DockerVersion string
	Endpoint      string
	UnitFile      string
	Unit          string
	Systemd       string
	Dockerd       string
	Swarm         bool
	Strict        bool
	Host          bool
	Output        string

	// versionOf asks the engine API for the daemon's version (tests
	// replace it).
	versionOf func(ctx context.Context, endpoint string) (string, error)
}

func newValidateCmd() *cobra.Command { return newValidateCmdWith(nil) }

// newValidateCmdWith lets tests see the parsed options instead of running.
func newValidateCmdWith(runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{versionOf: engineVersion}
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a daemon.json the way dockerd will read it",
		Long: `Check a Docker daemon.json the way dockerd reads it at start-up: JSON syntax
(with line:column; BOM, comments, trailing commas, empty file), duplicate keys,
unknown keys (with a "did you mean"), value types, the values dockerd refuses
(log-level, log-driver and log-opts, default-address-pools, hosts, runtimes,
exec-opts, labels, ulimits, mtu, max-concurrent-*, ...), keys also set as a
flag in the unit's ExecStart (dockerd refuses to start then), live-restore in
swarm mode, and upgrade safety (live-restore off: a warning, a failure with
--strict).

The rules follow the dockerd release that will read the file
(--docker-version): 20.10, or 23 and newer, whose loaders differ (a
"disable-legacy-registry" or "graph" key, an empty file, a byte order mark,
text after the object). With the 20.10 rules, problems that only newer
releases refuse are warned about (daemon-json.upgrade-compat). A version that
was never released (21.x, 22.06, 23.5) is an input error naming the releases;
one after 28.5 is judged by the 28.5 rules, and the output says so.

Each key is listed as reloadable (applied by systemctl reload docker) or
restart-only.

FILE defaults to the --config-file of the unit's ExecStart, else
/etc/docker/daemon.json.

EXIT STATUS
  0  dockerd would start with the file (warnings allowed)
  1  dockerd would refuse the file, or --strict and an upgrade-safety
     warning (live-restore missing or false) was found; other warnings
     (a duplicate key, a deprecated key) never change the exit status
  2  usage or input error (file missing or unreadable, bad flag)`,
		Example: `  # check the file for the release the local daemon runs
  liveswap validate /etc/docker/daemon.json

  # check it for the release you are about to install, with the unit's flags
  liveswap validate --docker-version 24.0 --unit-file /lib/systemd/system/docker.service

  # gate CI on it: live-restore must be on, machine-readable output
  liveswap validate --strict --output json daemon.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			if opts.Output != "table" && opts.Output != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--output must be table or json, not %q", opts.Output)}
			}
			opts.Out, opts.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if runF != nil {
				return runF(opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DockerVersion, "docker-version", "", "dockerd release whose rules apply, e.g. 20.10 or 24.0 (default: the version the daemon at --endpoint reports, else 20.10)")
	f.StringVar(&opts.Endpoint, "endpoint", engine.DefaultEndpoint, "engine API (unix:///path.sock or tcp://host:port) to ask for the running version when --docker-version is not given")
	f.StringVar(&opts.UnitFile, "unit-file", "", "systemd unit file whose ExecStart flags dockerd runs with (flag/file conflicts)")
	f.StringVar(&opts.Unit, "unit", "", "read ExecStart from this loaded unit over D-Bus instead (drop-ins applied)")
	f.StringVar(&opts.Systemd, "systemd", "system", "systemd manager of --unit: system or user")
	f.StringVar(&opts.Dockerd, "dockerd", "", "also run this dockerd binary with --validate on the file when it supports it (23+)")
	f.BoolVar(&opts.Swarm, "swarm", false, "the node is in swarm mode (live-restore is refused then)")
	f.BoolVar(&opts.Strict, "strict", false, "fail on upgrade-safety warnings (live-restore missing or false); other warnings still pass")
	f.BoolVar(&opts.Host, "host", false, "also judge what the file names on this host (TLS files, userns-remap user and ranges, group, plugins, paths, storage vs file system): findings that depend on the host")
	f.StringVar(&opts.Output, "output", "table", "output format: table or json")
	return cmd
}

// validateOutput is the JSON document of `liveswap validate --output json`
// (schema documented in docs/validate.md; fields are only ever added).
type validateOutput struct {
	SchemaVersion       int                      `json:"schemaVersion"`
	File                string                   `json:"file"`
	DockerVersion       string                   `json:"dockerVersion"`
	DockerVersionSource string                   `json:"dockerVersionSource"`
	RulesBasis          string                   `json:"rulesBasis"`
	ExecStart           []string                 `json:"execStart,omitempty"`
	Starts              bool                     `json:"starts"`
	Passed              bool                     `json:"passed"`
	Strict              bool                     `json:"strict"`
	Findings            []daemonjson.Finding     `json:"findings"`
	Keys                []daemonjson.KeyInfo     `json:"keys"`
	DockerdValidate     *daemonjson.BinaryResult `json:"dockerdValidate,omitempty"`
}

func validateRun(ctx context.Context, opts *ValidateOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var execStart []string
	switch {
	case opts.UnitFile != "" && opts.Unit != "":
		return usageError("--unit-file and --unit both name the unit: give one")
	case opts.UnitFile != "":
		var err error
		if execStart, err = systemd.ReadExecStart(opts.UnitFile); err != nil {
			return &exitError{code: 2, err: err}
		}
	case opts.Unit != "":
		var err error
		if execStart, err = loadedExecStart(ctx, opts.Systemd, opts.Unit); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if opts.File == "" {
		opts.File = configFileFromArgs(execStart)
	}
	data, err := os.ReadFile(opts.File)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("read daemon config: %w", err)}
	}

	version, source := daemonjson.RulesFor(
		daemonjson.Candidate{Source: "flag", Version: opts.DockerVersion, Explicit: true},
		daemonjson.Candidate{Source: "endpoint", Ask: func() (string, error) {
			if opts.versionOf == nil || opts.Endpoint == "" {
				return "", nil
			}
			v, err := opts.versionOf(ctx, opts.Endpoint)
			if err != nil && opts.Output == "table" {
				fmt.Fprintf(opts.Err, "liveswap: no daemon answered at %s (%v); using the dockerd 20.10 rules (set --docker-version)\n", opts.Endpoint, err)
			}
			return v, err
		}},
		daemonjson.Candidate{Source: "default", Version: daemonjson.V2010.String()},
	)
	parsed, err := daemonjson.ParseVersion(version)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--docker-version: %w", err)}
	}

	rep := daemonjson.Validate(data, daemonjson.Options{File: opts.File, DockerVersion: version, ExecStart: execStart, Swarm: opts.Swarm, Strict: opts.Strict})
	if opts.Host && rep.Starts() {
		// Host-dependent: only worth saying once the file itself passes.
		vopts := daemonjson.Options{File: opts.File, DockerVersion: version, ExecStart: execStart}
		rep.Findings = append(rep.Findings, daemonjson.CheckHost(data, vopts, daemonjson.LocalHost{})...)
	}
	var bin *daemonjson.BinaryResult
	if opts.Dockerd != "" {
		var args []string
		if len(execStart) > 1 {
			args = execStart[1:]
		}
		if bin, err = daemonjson.ValidateWithBinary(ctx, opts.Dockerd, opts.File, args...); err != nil {
			return &exitError{code: 2, err: err}
		}
		rep.Findings = append(rep.Findings, bin.Finding())
	}

	switch opts.Output {
	case "json":
		doc := validateOutput{SchemaVersion: 1, File: opts.File, DockerVersion: rep.DockerVersion, DockerVersionSource: source, RulesBasis: rep.RulesBasis,
			ExecStart: execStart, Starts: rep.Starts(), Passed: rep.Passed(), Strict: opts.Strict,
			Findings: rep.Findings, Keys: rep.Keys, DockerdValidate: bin}
		if doc.Findings == nil {
			doc.Findings = []daemonjson.Finding{}
		}
		if doc.Keys == nil {
			doc.Keys = []daemonjson.KeyInfo{}
		}
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return &exitError{code: 2, err: err}
		}
	default:
		if parsed != daemonjson.Current && rep.DockerVersion == daemonjson.Current.String() {
			fmt.Fprintf(opts.Out, "note: dockerd %s is newer than the newest rule set: judged by the dockerd %s rules\n", parsed, daemonjson.Current)
		}
		printValidateTable(opts.Out, opts.File, rep)
		fmt.Fprintf(opts.Out, "rules: %s\n", rep.RulesBasis)
	}
	if !rep.Passed() {
		return &exitError{code: 1, err: errSilent}
	}
	return nil
}

func printValidateTable(w io.Writer, file string, rep *daemonjson.Report) {
	for _, f := range rep.Findings {
		line := fmt.Sprintf("[%s] %s  %s  %s", f.Severity, f.ID, f.Location(file), f.Message)
		if f.Remedy != "" && f.Severity != daemonjson.OK {
			line += " — " + f.Remedy
		}
		fmt.Fprintln(w, line)
	}
	var reload, restart []string
	for _, k := range rep.Keys {
		switch {
		case !k.Known:
		case k.Reloadable:
			reload = append(reload, k.Name)
		default:
			restart = append(restart, k.Name)
		}
	}
	if len(reload) > 0 {
		fmt.Fprintf(w, "reloadable (systemctl reload docker): %s\n", strings.Join(reload, ", "))
	}
	if len(restart) > 0 {
		fmt.Fprintf(w, "restart-only: %s\n", strings.Join(restart, ", "))
	}
	warns := 0
	for _, f := range rep.Findings {
		if f.Severity == daemonjson.Warn {
			warns++
		}
	}
	switch {
	case !rep.Starts():
		fmt.Fprintf(w, "FAIL: dockerd %s would refuse %s\n", rep.DockerVersion, file)
	case !rep.Passed():
		fmt.Fprintf(w, "FAIL: dockerd %s would start with %s, but --strict found an upgrade-safety problem\n", rep.DockerVersion, file)
	default:
		fmt.Fprintf(w, "OK: dockerd %s would start with %s (%d warning(s))\n", rep.DockerVersion, file, warns)
	}
}

// engineVersion asks the daemon at endpoint for its version, briefly: the
// answer only picks the rules, and no answer means 20.10's.
func engineVersion(ctx context.Context, endpoint string) (string, error) {
	c, err := engine.New(endpoint)
	if err != nil {
		return "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.Version(ctx)
}

// configFileFromArgs returns dockerd's --config-file, or its default.
func configFileFromArgs(args []string) string {
	if f := plan.ConfigFileFlag(args); f != "" {
		return f
	}
	return "/etc/docker/daemon.json"
}

// loadedExecStart reads a loaded unit's ExecStart over D-Bus: what systemd
// will run, drop-ins included.
func loadedExecStart(ctx context.Context, scope, unit string) ([]string, error) {
	sc, err := systemd.ParseScope(scope)
	if err != nil {
		return nil, err
	}
	argv, err := systemd.LoadedExecStart(ctx, sc, unit)
	if err != nil {
		return nil, fmt.Errorf("%w (check --unit and --systemd)", err)
	}
	return argv, nil
}
