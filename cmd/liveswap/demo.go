package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

type demoOptions struct {
	Out, Err io.Writer
	Old, New string
	Keep     bool
}

func newDemoCmd() *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo --old LIVESWAPD --new LIVESWAPD",
		Short: "Run a demo: 'demo docker' is the live-restore case study on real dockerd builds; plain 'demo' upgrades liveswapd",
		Long: `Demo runs the whole story on this machine, touching nothing global:

  1. starts liveswapd (the --old build) as a systemd unit — under the system
     manager when systemd is PID 1, else under a private user manager —
     with live restore on, and runs nginx and redis in it;
  2. upgrades it to the --new build with 'apply', probing both every 20 ms,
     and prints the report (expected: upgraded, 0 failed probes);
  3. turns live restore off by a reload and applies again: preflight refuses;
  4. forces it (--force): the verifier names both containers as interrupted;
  5. removes everything it started.

'make demo' builds two liveswapd versions and runs this.

EXIT STATUS
  0  every step ended as expected
  1  a step did not (the output says which)
  2  usage error`,
		Example: "  liveswap demo --old bin/demo/liveswapd-1.0.0 --new bin/demo/liveswapd-1.0.1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Old == "" || o.New == "" {
				return usageError("demo needs --old and --new liveswapd binaries (make demo builds them)")
			}
			o.Out, o.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return demoRun(cmd.Context(), o)
		},
	}
	cmd.AddCommand(newDemoDockerCmd())
	cmd.Flags().StringVar(&o.Old, "old", "", "liveswapd build to start with")
	cmd.Flags().StringVar(&o.New, "new", "", "liveswapd build to upgrade to")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the demo's daemon and containers running")
	return cmd
}

func demoRun(ctx context.Context, o *demoOptions) (err error) {
	d := &testbed.Demo{Out: o.Out}
	defer func() {
		if !o.Keep {
			d.Close()
		}
	}()
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, "\n==> "+format+"\n", a...) }

	for _, f := range []*string{&o.Old, &o.New} {
		if *f, err = filepath.Abs(*f); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	oldV, err := binaryVersion(o.Old)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	newV, err := binaryVersion(o.New)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	say("starting liveswapd %s under systemd with live restore on", oldV)
	if err := d.Start(ctx, o.Old); err != nil {
		return &exitError{code: 1, err: err}
	}
	ws, err := d.Workloads(ctx)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	for _, w := range ws {
		fmt.Fprintf(o.Out, "    %s serving on %s\n", w.Container, w.Address)
	}

	sha, err := checks.FileSHA256(o.New)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	p := &plan.Plan{
		Target:    d.Target(),
		Binaries:  []plan.Binary{{Path: d.Bin, NewFile: o.New, SHA256: sha, ExpectedVersion: newV}},
		Workloads: ws,
	}
	// The new build's shim goes beside the daemon with it (running shims
	// keep their file; new containers get the new one).
	if newShim := filepath.Join(filepath.Dir(o.New), plan.LiveswapdShim); newShim != filepath.Join(filepath.Dir(o.Old), plan.LiveswapdShim) {
		if shimSHA, err := checks.FileSHA256(newShim); err == nil {
			p.Binaries = append(p.Binaries, plan.Binary{Path: filepath.Join(filepath.Dir(d.Bin), plan.LiveswapdShim), NewFile: newShim, SHA256: shimSHA, Component: plan.LiveswapdShim})
		}
	}
	p.Default()
	if b, err := p.Marshal(); err == nil {
		say("the plan (liveswap plan would discover the same)")
		o.Out.Write(b)
	}

	state := filepath.Join(d.Dir, "state")
	apply := func(force bool) (*upgrade.Report, error) {
		return upgrade.Apply(ctx, p, upgrade.Options{StateDir: state, Preflight: preflightFor(state, nil), Log: o.Err, Force: force})
	}
	var problems []string
	expect := func(step string, rep *upgrade.Report, want upgrade.Result) {
		writeReport(o.Out, "table", rep)
		if rep.Result != want {
			problems = append(problems, fmt.Sprintf("%s ended %s, expected %s", step, rep.Result, want))
		}
	}
	say("upgrading liveswapd %s -> %s with nginx and redis probed every 20 ms", oldV, newV)
	rep, err := apply(false)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	expect("the upgrade", rep, upgrade.Upgraded)

	say("negative control: live restore turned off (reload, no restart), %s re-installed", newV)
	if err := d.SetLiveRestore(ctx, false); err != nil {
		return &exitError{code: 1, err: err}
	}
	rep, err = apply(false)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	expect("the upgrade with live restore off", rep, upgrade.Refused)

	say("negative control, forced: the verifier must catch the interruption")
	rep, err = apply(true)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	expect("the forced upgrade with live restore off", rep, upgrade.Failed)

	if len(problems) > 0 {
		return &exitError{code: 1, err: errors.New("demo: " + strings.Join(problems, "; "))}
	}
	say("demo finished: upgraded with 0 failed probes; live restore off was refused, and forcing it was caught")
	return nil
}

// binaryVersion runs `liveswapd --version` ("liveswapd version 1.0.1").
func binaryVersion(bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 || f[1] != "version" {
		return "", fmt.Errorf("%s --version printed %q, want \"liveswapd version X\"", bin, strings.TrimSpace(string(out)))
	}
	return f[2], nil
}
