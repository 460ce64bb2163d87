package main

import (
	"fmt"

	"github.com/spf13/cobra"
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
	return root
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
