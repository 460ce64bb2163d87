package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// applyOptions holds what `liveswap apply` needs.
type applyOptions struct {
	Out, Err io.Writer
	In       io.Reader
	IsTTY    bool

	PlanFile string
	DryRun   bool
	Yes      bool
	Resume   bool
	Force    bool
	Output   string
	StateDir string
	Skip     []string
	// MetricsFile receives the run's metrics (Prometheus text format).
	MetricsFile string
}

func newApplyCmd(runF func(*applyOptions) error) *cobra.Command {
	opts := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply PLAN",
		Short: "Run an upgrade plan: swap the daemon binary and prove no workload noticed",
		Long: `Apply runs an upgrade plan (see 'liveswap plan'):

  preflight -> lock -> snapshot -> stage -> recheck -> swap -> restart -> ready -> canary -> verify -> commit

Probes of the plan's workloads run from before the daemon stops until after
verification. If the new daemon does not start, does not become ready, reports
another version than planned or cannot run the canary, the previous binary is
restored and the daemon restarted (rollback). Every phase is journaled under
--state-dir: after a crash, 'liveswap status' tells where it stopped,
'liveswap apply --resume' finishes and 'liveswap rollback' undoes.

INTERRUPTS
  Ctrl-C or SIGTERM before the swap: no further phase starts; the staged copy
  is removed; exit 1 (nothing changed). From the swap on, the run goes to its
  end (or its rollback) first: stopping between two binaries is worse. A second
  signal quits at once (exit 130 / 143); then use 'liveswap status'.

EXIT STATUS
  0  upgraded and verified
  1  refused (a check failed, another upgrade runs, staging failed): nothing touched
  2  usage or input error
  3  rolled back: the previous binary runs and the workloads were verified
  4  failed: workloads were interrupted or the rollback failed; operator needed`,
		Example: `  liveswap apply plan.yaml --dry-run
  liveswap apply plan.yaml --yes --output json > report.json
  liveswap apply --resume --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.PlanFile = args[0]
			}
			if opts.PlanFile == "" && !opts.Resume {
				return usageError("apply needs a PLAN file (or --resume)")
			}
			if opts.PlanFile != "" && opts.Resume {
				return usageError("--resume takes the plan from the journal; do not name a PLAN file")
			}
			opts.Out, opts.Err, opts.In = cmd.OutOrStdout(), cmd.ErrOrStderr(), cmd.InOrStdin()
			opts.IsTTY = isTerminal(opts.Err)
			if runF != nil {
				return runF(opts)
			}
			return applyRun(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.DryRun, "dry-run", false, "run preflight and print every step, touching nothing")
	f.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	f.BoolVar(&opts.Resume, "resume", false, "finish the interrupted run recorded in the journal")
	f.BoolVar(&opts.Force, "force", false, "go on although preflight failed (for drills: expect interrupted workloads)")
	f.StringVarP(&opts.Output, "output", "o", "table", "report format: table, json or junit")
	f.StringVar(&opts.StateDir, "state-dir", upgrade.DefaultStateDir, "folder of the journal, the lock and snapshots")
	f.StringSliceVar(&opts.Skip, "skip", nil, "pre-flight check IDs to skip (repeatable; see 'liveswap preflight')")
	addMetricsFlag(f, &opts.MetricsFile)
	return cmd
}

func applyRun(cmd *cobra.Command, o *applyOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if err := checkMetricsFile(o.MetricsFile); err != nil {
		return err
	}
	uo := upgrade.Options{StateDir: o.StateDir, DryRun: o.DryRun, Force: o.Force, Preflight: preflightFor(o.StateDir, o.Skip)}
	if o.Output == "table" {
		uo.Log = o.Err
		if o.IsTTY {
			uo.Progress = newTTYProgress(o.Err)
		}
	}
	var (
		rep *upgrade.Report
		err error
	)
	if o.Resume {
		if !o.Yes && !confirm(o, "Finish the interrupted upgrade recorded in "+o.StateDir+"?") {
			return usageError("not confirmed (use --yes in scripts)")
		}
		rep, err = upgrade.Resume(cmd.Context(), uo)
	} else {
		p, perr := plan.Load(o.PlanFile)
		if perr != nil {
			return &exitError{code: 2, err: perr}
		}
		if !o.DryRun && !o.Yes && !confirm(o, fmt.Sprintf("Upgrade %s (%s) with %s?", p.Target.Unit, p.Target.Kind, p.Binaries[0].NewFile)) {
			return usageError("not confirmed (use --yes in scripts)")
		}
		rep, err = upgrade.Apply(cmd.Context(), p, uo)
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if werr := writeReport(o.Out, o.Output, rep); werr != nil {
		return werr
	}
	if !o.DryRun {
		writeMetrics(o.Err, o.MetricsFile, rep)
	}
	if code := rep.ExitCode(); code != 0 {
		return &exitError{code: code, err: errSilent}
	}
	return nil
}

// confirm asks on a terminal; without one, the answer is no.
func confirm(o *applyOptions, question string) bool {
	if !o.IsTTY || !isTerminal(os.Stdin) {
		return false
	}
	fmt.Fprintf(o.Err, "%s [y/N] ", question)
	line, _ := bufio.NewReader(o.In).ReadString('\n')
	return strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
}

func checkOutput(format string) error {
	switch format {
	case "table", "json", "junit":
		return nil
	}
	return usageError(fmt.Sprintf("--output %q: use table, json or junit", format))
}

func usageError(msg string) error { return &exitError{code: 2, err: errors.New(msg)} }
