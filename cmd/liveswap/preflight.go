package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/plan/discover"
)

// preflightOptions holds what `liveswap preflight` needs.
type preflightOptions struct {
	Out, Err io.Writer

	PlanFile      string
	Target        discover.Flags
	Skip          []string
	Strict        bool
	Output        string
	DockerVersion string
	Downtime      time.Duration
	StateDir      string

	// connect reaches systemd (tests replace it).
	connect func(ctx context.Context, scope systemd.Scope) (*systemd.Manager, error)
}

// targetFlagNames are the flags that describe the target; a plan file
// describes it instead.
var targetFlagNames = []string{"target", "unit", "systemd", "endpoint", "daemon-config", "new-binary", "sha256"}

func newPreflightCmd(runF func(*preflightOptions) error) *cobra.Command {
	opts := &preflightOptions{connect: systemd.Connect}
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check that a daemon can be upgraded live, with this binary, on this host, now",
		Long: `Preflight runs every pre-flight check of an upgrade and touches nothing: the
daemon's systemd unit (read over D-Bus), the running daemon (Engine API), the
new binary, the version step, the daemon.json the new daemon will read, the
running containers, and hazards on the host. Each check prints ok, warn, fail
or skip with a message and, when something is wrong, a remedy.

The target comes from an upgrade plan (--plan) or from flags; whatever the
flags leave out is discovered: the unit's ExecStart gives the binary to
replace, --config-file and -H; the daemon.json gives hosts. Flags can also be
set in a config file (LIVESWAP_CONFIG, default /etc/liveswap/liveswap.yaml,
keys named like the flags) or the environment: LIVESWAP_NEW_BINARY,
LIVESWAP_SKIP="a,b", ...

Checks (skip any with --skip ID, a group with --skip unit, all with --skip all):
` + checkList() + `
Output: table (default), json (schema in docs/preflight.md) or junit (one
testcase per check, for CI).

EXIT STATUS
  0  every check passed (warnings allowed, unless --strict)
  1  a check failed: the upgrade would be refused
  2  usage or input error (bad flag, unreadable or invalid plan)`,
		Example: `  # the local dockerd against a downloaded release
  liveswap preflight --new-binary /tmp/dockerd-20.10.25 --sha256 "$(cut -d' ' -f1 dockerd.sha256)"

  # liveswapd under a user manager, as JSON for a script
  liveswap preflight --target liveswapd --systemd user --new-binary ./liveswapd --sha256 HEX -o json

  # the plan 'liveswap plan' wrote, gated in CI
  liveswap preflight --plan plan.yaml --output junit > preflight.xml

  # audit a host before any binary is chosen
  liveswap preflight --unit docker.service --skip binary`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd.Flags()); err != nil {
				return &exitError{code: 2, err: err}
			}
			opts.Out, opts.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := planExcludesTargetFlags(cmd.Flags(), opts.PlanFile); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return preflightRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.PlanFile, "plan", "", "upgrade plan file (instead of the target flags)")
	addTargetFlags(f, &opts.Target)
	f.StringSliceVar(&opts.Skip, "skip", nil, "check ID (or group, or all) not to run; repeatable")
	f.BoolVar(&opts.Strict, "strict", false, "warnings fail too")
	f.StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or junit")
	f.StringVar(&opts.DockerVersion, "docker-version", "", "daemon.json rule set (default: the new binary's version)")
	f.DurationVar(&opts.Downtime, "downtime", checks.DefaultDowntime, "planned daemon downtime, for the log-rate risk")
	f.StringVar(&opts.StateDir, "state-dir", checks.DefaultStateDir, "folder of liveswap's journal and lock")
	return cmd
}

func checkList() string {
	var b strings.Builder
	for _, c := range checks.PreflightChecks() {
		fmt.Fprintf(&b, "  %-26s %s\n", c.ID, c.Description)
	}
	return b.String()
}

// applyConfig fills flags the command line left unset from the config file
// and LIVESWAP_* variables. It is the only place viper is read.
func applyConfig(fs *pflag.FlagSet) error {
	v := viper.New()
	v.SetEnvPrefix("LIVESWAP")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	path, explicit := os.LookupEnv("LIVESWAP_CONFIG")
	if !explicit {
		path = "/etc/liveswap/liveswap.yaml"
	}
	if _, err := os.Stat(path); err == nil || explicit {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config file %s (LIVESWAP_CONFIG): %w", path, err)
		}
	}
	var errs []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || !v.IsSet(f.Name) {
			return
		}
		vals := []string{v.GetString(f.Name)}
		if f.Value.Type() == "stringSlice" {
			vals = v.GetStringSlice(f.Name)
			if len(vals) == 1 {
				vals = strings.Split(vals[0], ",")
			}
		}
		for _, val := range vals {
			if err := fs.Set(f.Name, val); err != nil {
				errs = append(errs, fmt.Sprintf("%s from config or LIVESWAP_%s: %v", f.Name, strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")), err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func preflightRun(ctx context.Context, o *preflightOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	var (
		p   *plan.Plan
		mgr *systemd.Manager
		err error
	)
	if o.PlanFile != "" {
		if p, err = plan.Load(o.PlanFile); err != nil {
			return &exitError{code: 2, err: err}
		}
		// Policy flags loosen the plan's policy; they never tighten it
		// silently, so only true values apply.
		p.Policy.AllowMinor = p.Policy.AllowMinor || o.Target.AllowMinor
		p.Policy.AllowMajor = p.Policy.AllowMajor || o.Target.AllowMajor
		p.Policy.AllowDowngrade = p.Policy.AllowDowngrade || o.Target.AllowDowngrade
		p.Policy.InsecureSkipChecksum = p.Policy.InsecureSkipChecksum || o.Target.InsecureSkipChecksum
	} else {
		if p, mgr, err = discoverTarget(ctx, o.Target, o.connect); err != nil {
			return &exitError{code: 2, err: err}
		}
		if mgr != nil {
			defer mgr.Close()
		}
	}
	rep, err := checks.Preflight(ctx, p, checks.Options{
		Skip: o.Skip, Strict: o.Strict, DockerVersion: o.DockerVersion,
		Downtime: o.Downtime, StateDir: o.StateDir, Manager: mgr, Connect: o.connect,
	})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := rep.Write(o.Out, o.Output); err != nil {
		return err
	}
	if rep.Failed() {
		var ids []string
		for _, r := range rep.Results {
			if r.Status == checks.Fail || (rep.Strict && r.Status == checks.Warn) {
				ids = append(ids, r.ID)
			}
		}
		err := fmt.Errorf("preflight failed: %s", strings.Join(ids, ", "))
		if o.Output == "table" {
			err = errSilent // the table already says so
		}
		return &exitError{code: 1, err: err}
	}
	return nil
}
