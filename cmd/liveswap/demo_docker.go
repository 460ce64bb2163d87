package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/internal/testbed"
)

func newDemoDockerCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "docker",
		Short: "The live-restore case study on real Debian builds of dockerd, with nginx and redis serving",
		Long: `demo docker plays the live-restore case study on this machine, touching
nothing global. It needs root, Debian's docker.io, nginx-light and
redis-server packages, and the real releases e2e/releases.sh fetches
('make demo' installs all of it):

  0. a Debian 11 host: docker.io 20.10.5 and containerd 1.4.13 (bullseye),
     Debian's own unit files (docker.socket, docker.service -H fd://,
     containerd.service) under a private systemd manager whose mount
     namespace is the host's /usr, /etc, /var/lib copy-on-write; live
     restore off, as Docker ships it; nginx, and redis holding 100 keys;
  1. liveswap enable-live-restore: on by a reload, no container restarted;
  2. liveswap plan: Debian 12's dockerd 20.10.24 and containerd 1.6.20;
  3. liveswap apply: refused, containerd 1.4 -> 1.6 skips a minor release;
  4. planned with --allow-minor and applied: containerd.service then
     docker.service restarted, every container kept, 0 failed probes,
     keys intact;
  5. negative control: live restore off, the same upgrade is refused; forced,
     the containers restart and liveswap names them and the lost keys.

The liveswap commands run are printed as an operator would type them.

EXIT STATUS
  0  every step ended as expected
  1  a step did not (the output says which)`,
		Example: "  sudo liveswap demo docker",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			s, err := testbed.NewSession("liveswap-demo-", cmd.ErrOrStderr(), verbose)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer s.Close()
			// A reader that goes away (| head) must not kill the demo
			// before it removes what it started, nor must an interrupt.
			signal.Ignore(syscall.SIGPIPE)
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer signal.Stop(sigs)
			go func() {
				if sig, ok := <-sigs; ok {
					fmt.Fprintf(cmd.ErrOrStderr(), "demo: %v: removing what it started\n", sig)
					s.Close()
					os.Exit(130)
				}
			}()
			cs := &testbed.CaseStudy{Out: cmd.OutOrStdout(), Liveswap: self}
			if err := cs.Run(s); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("demo: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every step of the set-up")
	return cmd
}
