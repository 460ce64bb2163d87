package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "liveswap",
		Short: "Upgrade a container daemon with zero downtime for its containers",
		Long: `liveswap upgrades a container daemon (dockerd, or the bundled liveswapd)
to a new binary through systemd while its containers keep running, and proves
that no workload was interrupted — or rolls back.

EXIT STATUS
  0  success
  1  a check failed or the upgrade was refused (nothing touched)
  2  usage or input error
  3  rolled back (old binary running, workloads verified)
  4  failed (operator needed)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd())
	root.AddCommand(newValidateCmd())
	root.AddCommand(newPreflightCmd(nil))
	root.AddCommand(newPlanCmd(nil), newApplyCmd(nil), newStatusCmd(), newRollbackCmd(), newSnapshotCmd(), newVerifyCmd(), newDemoCmd())
	root.AddCommand(newEnableLiveRestoreCmd(nil))
	onceFlags(root)
	return root
}

// onceFlags makes every single-value string flag of cmd and its
// subcommands refuse a second value: pflag keeps the last one silently, and
// `--new-binary A --new-binary B` must not plan B at A's place.
func onceFlags(cmd *cobra.Command) {
	wrap := func(f *pflag.Flag) {
		if f.Value.Type() == "string" {
			if _, done := f.Value.(*onceValue); !done {
				f.Value = &onceValue{Value: f.Value}
			}
		}
	}
	cmd.Flags().VisitAll(wrap)
	cmd.PersistentFlags().VisitAll(wrap)
	for _, c := range cmd.Commands() {
		onceFlags(c)
	}
}

// onceValue is a flag value that may be set once per command line.
type onceValue struct {
	pflag.Value
	set   bool
	first string
}

func (o *onceValue) Set(s string) error {
	if o.set {
		return fmt.Errorf("given twice (%q, then %q): this flag takes one value", o.first, s)
	}
	o.set, o.first = true, s
	return o.Value.Set(s)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print liveswap's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "liveswap %s\n", version)
			return err
		},
	}
}
