package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

func newStatusCmd() *cobra.Command {
	var stateDir, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say where the last upgrade stopped and what is on disk",
		Long: `Status reads the journal under --state-dir and the files it names: the
target binary, the staged new one and the backup of the old one (with their
sha256), and says what to do next. Each backup is checked before it is
advised: a regular file (not a symbolic link) with the sha256 the journal
recorded before the swap; when it is not, status says that a rollback
cannot restore it.

EXIT STATUS
  0  the last run ended (or none ran)
  1  the last run was interrupted: resume or roll back
  2  usage or input error`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := upgrade.ReadStatus(stateDir)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.Encode(st)
			} else {
				if st.Run != "" {
					fmt.Fprintf(out, "run:        %s (unit %s)\n", st.Run, st.Unit)
					fmt.Fprintf(out, "result:     %s\n", orDash(string(st.Result)))
					fmt.Fprintf(out, "last phase: %s (%s)\n", st.LastPhase, st.LastState)
					if st.Error != "" {
						fmt.Fprintf(out, "error:      %s\n", st.Error)
					}
					tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "\nROLE\tPATH\tEXISTS\tSHA256")
					for _, f := range st.Files {
						fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", f.Role, f.Path, f.Exists, f.SHA256)
					}
					if len(st.Components) > 0 {
						fmt.Fprintln(tw, "\nCOMPONENT\tPACKAGE\tDPKG\tFILE\tRUNNING (PID)\tAGREE")
						for _, c := range st.Components {
							agree := "yes"
							if c.Disagreement != "" {
								agree = "NO: " + c.Disagreement
							}
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (%d)\t%s\n", c.Name, orDash(c.Package), orDash(c.PackageVersion), orDash(c.FileVersion), orDash(c.RunningVersion), c.PID, agree)
						}
					}
					tw.Flush()
					for _, f := range st.Files {
						if f.Problem != "" {
							fmt.Fprintf(out, "problem:    %s\n", f.Problem)
						}
					}
					if st.PlanError != "" {
						fmt.Fprintf(out, "problem:    %s\n", st.PlanError)
					}
					fmt.Fprintln(out)
				}
				fmt.Fprintln(out, st.Advice)
			}
			if st.Run != "" && st.Result == "" {
				return &exitError{code: 1, err: errSilent}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", upgrade.DefaultStateDir, "folder of the journal")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func newRollbackCmd() *cobra.Command {
	var stateDir, output, metricsFile string
	var yes bool
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Restore the binaries the last upgrade replaced and restart the daemon",
		Long: `Rollback puts back every backup the journal's last run recorded, restarts the
unit through systemd, waits until the daemon answers with the previous version,
and checks that no container was interrupted by it: before the restart it
records every running container and starts the plan's workload probes, after
it compares the containers with that record and reads the probes (result
"reverted").

When the daemon is down as the rollback begins there is no record to compare
with: the binaries are restored and the probes still read, but the result is
"reverted-unverified" (exit 5): check the containers yourself.

EXIT STATUS
  0  reverted: the previous binary runs, containers compared, probes clean
  1  refused: nothing was changed (another liveswap holds the lock, or an
     interrupt came before the rollback began); run it again
  2  usage or input error (nothing to roll back)
  4  failed: the rollback failed, or workloads were interrupted; operator needed
  5  reverted-unverified: the previous binary runs, but no container was compared`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := checkMetricsFile(metricsFile); err != nil {
				return err
			}
			o := &applyOptions{Err: cmd.ErrOrStderr(), In: cmd.InOrStdin(), IsTTY: isTerminal(cmd.ErrOrStderr())}
			if !yes && !confirm(o, "Restore the previous binaries recorded in "+stateDir+"?") {
				return usageError("not confirmed (use --yes in scripts)")
			}
			uo := upgrade.Options{StateDir: stateDir}
			if output == "table" {
				uo.Log = cmd.ErrOrStderr()
			}
			rep, err := upgrade.Rollback(cmd.Context(), uo)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			writeReport(cmd.OutOrStdout(), output, rep)
			writeMetrics(cmd.ErrOrStderr(), metricsFile, rep)
			if code := rep.ExitCode(); code != 0 {
				return &exitError{code: code, err: errSilent}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", upgrade.DefaultStateDir, "folder of the journal")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "report format: table, json or junit")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	addMetricsFlag(cmd.Flags(), &metricsFile)
	return cmd
}

// snapshotOptions are shared by snapshot and verify.
type snapshotOptions struct {
	endpoint string
	planFile string
}

func (s *snapshotOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.endpoint, "endpoint", engine.DefaultEndpoint, "engine API socket of the daemon")
	cmd.Flags().StringVar(&s.planFile, "plan", "", "take the endpoint and workloads (redis run_id) from a plan")
}

func (s *snapshotOptions) resolve() (*engine.Client, []plan.Workload, error) {
	ep := s.endpoint
	var ws []plan.Workload
	if s.planFile != "" {
		p, err := plan.Load(s.planFile)
		if err != nil {
			return nil, nil, err
		}
		ep, ws = p.Target.Endpoint, p.Workloads
	}
	c, err := engine.New(ep)
	return c, ws, err
}

func newSnapshotCmd() *cobra.Command {
	var so snapshotOptions
	var out string
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Record every running container (id, PID, StartedAt, restarts, identity)",
		Long: `Snapshot records every running container of the daemon: id, name, PID,
StartedAt, restart count and health, plus workload identity (redis run_id for
the plan's redis probes). Compare later with 'liveswap verify'.

EXIT STATUS
  0  written
  2  usage or input error (daemon unreachable)`,
		Example: "  liveswap snapshot --endpoint unix:///var/run/docker.sock -o before.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := so.resolve()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer c.Close()
			s, err := upgrade.TakeSnapshot(cmd.Context(), c, ws)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if out == "" || out == "-" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			if err := s.WriteFile(out); err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "recorded %d running containers in %s\n", len(s.Containers), out)
			return nil
		},
	}
	so.flags(cmd)
	cmd.Flags().StringVarP(&out, "output-file", "o", "", "write the snapshot here (default stdout)")
	return cmd
}

func newVerifyCmd() *cobra.Command {
	var so snapshotOptions
	var file, output string
	cmd := &cobra.Command{
		Use:   "verify --snapshot FILE",
		Short: "Compare the running containers with a snapshot and name each interrupted one",
		Long: `Verify compares the daemon's running containers with a snapshot taken by
'liveswap snapshot' and names each container that was interrupted, and how:
gone, another PID, restarted (StartedAt or restart count), or a new workload
identity (redis run_id).

EXIT STATUS
  0  nothing was interrupted
  1  at least one container was interrupted
  2  usage or input error`,
		Example: "  liveswap verify --snapshot before.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError("verify needs --snapshot FILE (written by `liveswap snapshot -o FILE`)")
			}
			before, err := upgrade.ReadSnapshot(file)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if !cmd.Flags().Changed("endpoint") && so.planFile == "" && before.Endpoint != "" {
				so.endpoint = before.Endpoint
			}
			c, ws, err := so.resolve()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer c.Close()
			after, err := upgrade.TakeSnapshot(cmd.Context(), c, ws)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			changes := upgrade.Compare(before, after)
			out := cmd.OutOrStdout()
			bad := 0
			for _, ch := range changes {
				if ch.Interrupted {
					bad++
				}
			}
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.Encode(map[string]any{"interrupted": bad, "containers": changes})
			} else {
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "CONTAINER\tPID BEFORE\tPID AFTER\tINTERRUPTED\tREASON")
				for _, ch := range changes {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%v\t%s\n", ch.Name, ch.PidBefore, ch.PidAfter, ch.Interrupted, ch.Reason)
				}
				tw.Flush()
			}
			if bad > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d containers were interrupted\n", bad, len(changes))
				return &exitError{code: 1, err: errSilent}
			}
			return nil
		},
	}
	so.flags(cmd)
	cmd.Flags().StringVar(&file, "snapshot", "", "snapshot file to compare with")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}
