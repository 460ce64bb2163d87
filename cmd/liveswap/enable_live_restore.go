package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/plan/discover"
	"github.com/liveswap/liveswap/upgrade/liverestore"
)

// enableLiveRestoreOptions holds what `liveswap enable-live-restore` needs.
type enableLiveRestoreOptions struct {
	Out, Err io.Writer
	In       io.Reader
	IsTTY    bool

	PlanFile string
	Target   discover.Flags
	DryRun   bool
	Yes      bool
	Output   string
	Timeout  time.Duration

	connect func(ctx context.Context, scope systemd.Scope) (*systemd.Manager, error)
}

func newEnableLiveRestoreCmd(runF func(*enableLiveRestoreOptions) error) *cobra.Command {
	opts := &enableLiveRestoreOptions{connect: systemd.Connect}
	cmd := &cobra.Command{
		Use:   "enable-live-restore",
		Short: "Turn live restore on for a running daemon by a reload, without stopping a container",
		Long: `Enable-live-restore is the usual first step on a host where live restore is
off. It reads the daemon.json the unit's daemon reads and:

  audit    runs the unit and daemon pre-flight checks (KillMode, Type,
           ExecReload, ...); an inactive unit, an unreachable daemon or a unit
           without ExecReload refuse the change
  validate sets "live-restore": true in a copy — every other key, its order
           and formatting kept — and judges it with the rules of the running
           daemon (dockerd's, or liveswapd's own loader); a file the daemon
           would not accept refuses the change
  backup   copies the file to daemon.json.liveswap-backup-<time>
  write    replaces the file atomically (same mode and owner)
  reload   asks systemd over D-Bus to reload the unit (SIGHUP: dockerd and
           liveswapd apply live-restore without a restart)
  confirm  waits until the Engine API reports LiveRestoreEnabled
  verify   compares the running containers with a snapshot taken before:
           none may have another PID, StartedAt or restart count

If a step after the write fails, the previous file is put back and the unit
reloaded again. --dry-run prints the audit and the diff and touches nothing.

Live restore alone does not make an upgrade safe: the output lists what else
must change first (for dockerd, KillMode=process above all).

The target comes from --plan (its target section; its workloads are probed
during the reload) or from the same flags as 'liveswap preflight'.

EXIT STATUS
  0  live restore is on (enabled now, or already), or a dry run
  1  refused: a check or the validation failed; nothing was changed
  2  usage or input error
  3  a step failed; the previous daemon.json is back and reloaded
  4  failed: a container was interrupted, or the previous file could not be
     restored; operator needed`,
		Example: `  # what would change, on the local dockerd
  liveswap enable-live-restore --dry-run

  # do it, for a script
  liveswap enable-live-restore --yes --output json

  # a liveswapd under a user manager, from a plan (playbooks/enable-live-restore.yaml)
  liveswap enable-live-restore --plan playbooks/enable-live-restore.yaml --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd.Flags()); err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := planExcludesTargetFlags(cmd.Flags(), opts.PlanFile); err != nil {
				return err
			}
			if opts.Output != "table" && opts.Output != "json" {
				return usageError(fmt.Sprintf("--output %q: use table or json", opts.Output))
			}
			opts.Out, opts.Err, opts.In = cmd.OutOrStdout(), cmd.ErrOrStderr(), cmd.InOrStdin()
			opts.IsTTY = isTerminal(opts.Err)
			if runF != nil {
				return runF(opts)
			}
			return enableLiveRestoreRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.PlanFile, "plan", "", "take the target (and workloads to probe) from an upgrade plan")
	addTargetFlags(f, &opts.Target)
	f.BoolVar(&opts.DryRun, "dry-run", false, "audit and show the diff; change nothing")
	f.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	f.StringVarP(&opts.Output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&opts.Timeout, "timeout", 30*time.Second, "how long to wait for the daemon to report live restore on after the reload")
	return cmd
}

func enableLiveRestoreRun(ctx context.Context, o *enableLiveRestoreOptions) error {
	var (
		p   *plan.Plan
		mgr *systemd.Manager
		err error
	)
	if o.PlanFile != "" {
		if p, err = plan.Load(o.PlanFile); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		if p, mgr, err = discoverTarget(ctx, o.Target, o.connect); err != nil {
			return &exitError{code: 2, err: err}
		}
		if mgr != nil {
			defer mgr.Close()
		}
	}
	lo := liverestore.Options{DryRun: o.DryRun, Manager: mgr, Connect: o.connect, Timeout: o.Timeout}
	if !o.DryRun && !o.Yes {
		if !o.IsTTY {
			return usageError("not confirmed (use --yes in scripts, or --dry-run to see the change)")
		}
		preview := lo
		preview.DryRun = true
		res := liverestore.Enable(ctx, p, preview)
		if res.Result != liverestore.Planned {
			return finishEnable(o, res)
		}
		fmt.Fprint(o.Err, res.Diff)
		ao := &applyOptions{Err: o.Err, In: o.In, IsTTY: o.IsTTY}
		if !confirm(ao, fmt.Sprintf("Write %s and reload %s?", p.Target.DaemonConfig, p.Target.Unit)) {
			return usageError("not confirmed (use --yes in scripts)")
		}
	}
	if o.Output == "table" {
		lo.Log = o.Err
	}
	return finishEnable(o, liverestore.Enable(ctx, p, lo))
}

// finishEnable renders the result and maps it to the exit status.
func finishEnable(o *enableLiveRestoreOptions, res *liverestore.Result) error {
	if err := writeEnableResult(o.Out, o.Output, res); err != nil {
		return err
	}
	if code := res.Result.ExitCode(); code != 0 {
		return &exitError{code: code, err: errSilent}
	}
	return nil
}

func writeEnableResult(w io.Writer, format string, r *liverestore.Result) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	onOff := map[bool]string{true: "on", false: "off"}
	fmt.Fprintf(w, "result:       %s\n", r.Result)
	fmt.Fprintf(w, "unit:         %s (%s %s)\n", r.Unit, r.Target, orDash(r.DaemonVersion))
	fmt.Fprintf(w, "daemon.json:  %s\n", r.DaemonConfig)
	after := onOff[r.LiveRestoreAfter]
	if r.Result == liverestore.Planned {
		after = "on (after the reload)"
	}
	fmt.Fprintf(w, "live restore: %s -> %s\n", onOff[r.LiveRestoreBefore], after)
	if r.Backup != "" {
		fmt.Fprintf(w, "backup:       %s\n", r.Backup)
	}
	if r.Diff != "" && (r.Result == liverestore.Planned || r.FileChanged) {
		fmt.Fprintf(w, "\n%s", r.Diff)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Findings) > 0 {
		fmt.Fprintf(tw, "\nFINDING (%s)\tSEVERITY\tWHERE\tMESSAGE\n", r.Rules)
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.ID, f.Severity, f.Location(r.DaemonConfig), f.Message)
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(tw, "\nSTEP\tSTATUS\tTIME\tDETAIL")
		for _, s := range r.Steps {
			detail := s.Detail
			if s.Error != "" {
				detail = s.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f ms\t%s\n", s.Name, s.Status, s.DurationMS, detail)
		}
	}
	if len(r.Containers) > 0 {
		fmt.Fprintln(tw, "\nCONTAINER\tPID BEFORE\tPID AFTER\tINTERRUPTED\tREASON")
		for _, c := range r.Containers {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%v\t%s\n", c.Name, c.PidBefore, c.PidAfter, c.Interrupted, c.Reason)
		}
	}
	if len(r.Probes) > 0 {
		fmt.Fprintln(tw, "\nPROBE\tKIND\tSENT\tFAILED\tMAX GAP")
		for _, p := range r.Probes {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f ms\n", p.Name, p.Kind, p.Sent, p.Failed, p.MaxGapMS)
		}
	}
	tw.Flush()
	if len(r.BeforeUpgrade) > 0 {
		fmt.Fprintln(w, "\nBefore an upgrade is safe, also fix:")
		for _, l := range r.BeforeUpgrade {
			fmt.Fprintf(w, "  %s\n", l)
		}
	} else if r.Result != liverestore.Refused {
		fmt.Fprintln(w, "\nThe unit and daemon checks pass: next, 'liveswap preflight --new-binary ...'.")
	}
	if r.Error != "" {
		fmt.Fprintf(w, "\nerror:  %s\n", r.Error)
	}
	if r.Remedy != "" {
		fmt.Fprintf(w, "remedy: %s\n", r.Remedy)
	}
	return nil
}
