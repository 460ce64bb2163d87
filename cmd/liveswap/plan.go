package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/plan/discover"
)

// planOptions holds what `liveswap plan` needs.
type planOptions struct {
	Out, Err io.Writer

	Target      discover.Flags
	Probes      []string
	CanaryImage string
	OutFile     string
	Skip        []string
	StateDir    string
	Packages    packageFlags

	connect func(ctx context.Context, scope systemd.Scope) (*systemd.Manager, error)
}

func newPlanCmd(runF func(*planOptions) error) *cobra.Command {
	opts := &planOptions{connect: systemd.Connect}
	cmd := &cobra.Command{
		Use:   "plan --new-binary PATH --sha256 HEX",
		Short: "Write an upgrade plan for this host, discovered from the live daemon",
		Long: `Plan looks at the live host and writes an UpgradePlan (YAML, apiVersion
liveswap/v1) that 'liveswap apply' runs, then prints what it will do:
from-version -> to-version, what will be swapped, what will be verified and
the pre-flight verdicts.

Discovered: the unit (its ExecStart names the binary to replace, its
--config-file and -H), the daemon.json hosts (the endpoint), the new binary's
version (it must answer --version), and one probe per TCP port the running
containers listen on — read from each container's process tree: HTTP for
nginx, Redis PING for redis-server, a TCP connect otherwise. --probe names
probes instead of discovering them:

  --probe web=http://127.0.0.1:8080/healthz
  --probe cache=redis://127.0.0.1:6379
  --probe db=tcp://127.0.0.1:5432

The canary (a short-lived container apply runs on the new daemon) is the
kind's own when it has one (liveswapd: the host image). Otherwise it is the
image of a running container whose filesystem has /bin/sh (looked up through
the container's root as it sees it), run as '/bin/sh -c true', or the image
--canary-image names (it must be present and have /bin/sh). With neither,
the plan has no canary and apply reports the phase skipped: no image.

A stack: --new-binary PATH --sha256 HEX may be repeated, one pair per
binary. Each binary is matched to its component by what its version probe
prints (dockerd, containerd, containerd-shim-runc-v2, runc), never by its
file name; containerd's path is its containerd.service's ExecStart, and apply
restarts containerd.service before the target. A binary that names no
component is a usage error.

Edit the file freely: 'liveswap apply' validates it strictly.

EXIT STATUS
  0  the plan was written (pre-flight failures are shown, not fatal)
  2  usage or input error`,
		Example: `  liveswap plan --new-binary /srv/dockerd-20.10.24 --sha256 HEX -o plan.yaml
  liveswap plan --new-binary /srv/dockerd --sha256 HEX --new-binary /srv/containerd --sha256 HEX --allow-minor
  liveswap plan --target liveswapd --new-binary ./liveswapd --sha256 HEX --probe web=http://127.0.0.1:8080/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd.Flags()); err != nil {
				return &exitError{code: 2, err: err}
			}
			if len(opts.Target.NewBinary) == 0 && !opts.Packages.any() {
				return usageError("plan needs --new-binary PATH (and --sha256 HEX from the release), or packages: --deb FILE / --apt NAME=VERSION")
			}
			if n, m := len(opts.Target.NewBinary), len(opts.Target.SHA256); m > 0 && n != m {
				return usageError(fmt.Sprintf("%d --new-binary and %d --sha256: give them in pairs, --new-binary PATH --sha256 HEX for each binary", n, m))
			}
			opts.Out, opts.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if runF != nil {
				return runF(opts)
			}
			return planRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	addTargetFlags(f, &opts.Target)
	f.StringArrayVar(&opts.Probes, "probe", nil, "CONTAINER=URL probe (http://, https://, redis://, tcp://); repeatable; replaces discovery")
	f.StringVar(&opts.CanaryImage, "canary-image", "", "image of the canary container, present on the host and with /bin/sh (default: the image of a running container that has /bin/sh)")
	f.StringVarP(&opts.OutFile, "output-file", "o", "", "write the plan here (default stdout)")
	f.StringSliceVar(&opts.Skip, "skip", nil, "pre-flight check IDs not to run while planning")
	f.StringVar(&opts.StateDir, "state-dir", checks.DefaultStateDir, "folder of liveswap's journal and lock")
	f.StringArrayVar(&opts.Packages.Debs, "deb", nil, "a .deb to install instead of swapping binaries (docker.io, containerd); repeatable")
	f.StringArrayVar(&opts.Packages.Apt, "apt", nil, "NAME=VERSION for apt to download into --packages-dir now (apt checks its signature); repeatable")
	f.StringArrayVar(&opts.Packages.Previous, "previous-deb", nil, "the .deb of a version installed now, for a rollback (default: apt's cache, else apt downloads it); repeatable")
	f.StringVar(&opts.Packages.Dir, "packages-dir", "", "where packages are downloaded and extracted (default STATE-DIR/packages)")
	return cmd
}

// parseProbe reads CONTAINER=URL.
func parseProbe(s string) (plan.Workload, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return plan.Workload{}, fmt.Errorf("--probe %q: use CONTAINER=URL (example: web=http://127.0.0.1:8080/)", s)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return plan.Workload{}, fmt.Errorf("--probe %q: %q is not a URL with a host and port", s, raw)
	}
	w := plan.Workload{Container: name, Interval: plan.Duration(20 * time.Millisecond)}
	switch u.Scheme {
	case "http", "https":
		w.Probe, w.Address = probe.HTTP, raw
	case "redis":
		w.Probe, w.Address = probe.Redis, u.Host
	case "tcp":
		w.Probe, w.Address = probe.TCP, u.Host
	default:
		return plan.Workload{}, fmt.Errorf("--probe %q: scheme %q: use http, https, redis or tcp", s, u.Scheme)
	}
	if err := w.Spec().Validate(); err != nil {
		return plan.Workload{}, fmt.Errorf("--probe %q: %w", s, err)
	}
	return w, nil
}

func planRun(ctx context.Context, o *planOptions) error {
	var probes []plan.Workload
	for _, s := range o.Probes {
		w, err := parseProbe(s)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		probes = append(probes, w)
	}
	var pkgs []plan.Package
	if o.Packages.any() {
		if o.Packages.Dir == "" {
			o.Packages.Dir = filepath.Join(o.StateDir, "packages")
		}
		var err error
		if pkgs, err = stagePackages(ctx, o.Packages, &o.Target, o.Err); err != nil {
			return &exitError{code: 2, err: err}
		}
		if err := previousPackages(ctx, o.Packages, pkgs, o.Err); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	p, mgr, err := discoverTarget(ctx, o.Target, o.connect)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if mgr != nil {
		defer mgr.Close()
	}
	p.Workloads = probes
	p.Packages = pkgs
	c, err := engine.New(p.Target.Endpoint)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer c.Close()
	if len(probes) == 0 {
		if ws, err := discover.Workloads(ctx, c); err == nil {
			p.Workloads = ws
		} else {
			fmt.Fprintf(o.Err, "note: no probes discovered (%v); name them with --probe\n", err)
		}
	}
	canaryWhy, err := planCanary(ctx, o, p, c)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	rep, err := checks.Preflight(ctx, p, checks.Options{Skip: o.Skip, StateDir: o.StateDir, Manager: mgr, Connect: o.connect})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := expectVersions(ctx, p, o.Target.InsecureSkipChecksum); err != nil {
		return &exitError{code: 2, err: err}
	}
	p.Default()
	if err := p.Validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	shimNote(o.Err, p)
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	if o.OutFile == "" || o.OutFile == "-" {
		o.Out.Write(b)
	} else if err := os.WriteFile(o.OutFile, b, 0o644); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("writing the plan: %w", err)}
	}
	writePlanSummary(o.Err, p, rep, o.OutFile, canaryWhy)
	return nil
}

// shimNote says when a liveswapd upgrade leaves out the liveswapd-shim
// that lies beside the new liveswapd: containers started after the upgrade
// would still run the installed shim. It is not added silently: the plan
// swaps only files whose checksum the operator gave.
func shimNote(w io.Writer, p *plan.Plan) {
	var daemon *plan.Binary
	for i, b := range p.Binaries {
		switch p.ComponentOf(b).Name {
		case plan.LiveswapdShim:
			return
		case plan.Liveswapd:
			daemon = &p.Binaries[i]
		}
	}
	if daemon == nil {
		return
	}
	shim := filepath.Join(filepath.Dir(daemon.NewFile), plan.LiveswapdShim)
	if fi, err := os.Stat(shim); err != nil || !fi.Mode().IsRegular() {
		return
	}
	fmt.Fprintf(w, "note: %s, beside the new liveswapd, is not in the plan: containers started after the upgrade would run %s as installed; add --new-binary %s --sha256 HEX to swap it with liveswapd\n",
		shim, filepath.Join(filepath.Dir(daemon.Path), plan.LiveswapdShim), shim)
}

// planCanary fills the plan's canary when its kind has none: the image
// --canary-image names, else one discovered on the host. It returns why
// the canary is what it is, for the summary.
func planCanary(ctx context.Context, o *planOptions, p *plan.Plan, c discover.ContainerSource) (string, error) {
	if o.CanaryImage != "" {
		// Checked now: a canary that cannot be created would fail apply
		// after the swap, and roll it back.
		if _, err := c.ImageID(ctx, o.CanaryImage); errors.Is(err, engine.ErrNoImage) {
			return "", fmt.Errorf("--canary-image %s: the daemon has no such image (pull or load it first)", o.CanaryImage)
		} else if err != nil {
			fmt.Fprintf(o.Err, "note: --canary-image %s not checked: %v\n", o.CanaryImage, err)
		}
		p.Canary = plan.Canary{Image: o.CanaryImage, Command: discover.CanaryCommand}
		return "named by --canary-image", nil
	}
	if p.Canary.Image != "" {
		return "the " + p.Target.Kind + " default", nil
	}
	choice, err := discover.Canary(ctx, c, nil)
	if err != nil {
		return err.Error(), nil
	}
	p.Canary = choice.Canary
	return choice.Why, nil
}

// writePlanSummary tells a person what apply would do.
func writePlanSummary(w io.Writer, p *plan.Plan, rep *checks.Report, file, canaryWhy string) {
	fmt.Fprintf(w, "\nUpgrade plan for %s (%s, systemd %s)\n", p.Target.Unit, p.Target.Kind, p.Target.Systemd)
	to := ""
	if d := p.Daemon(); d != nil {
		to = d.ExpectedVersion
	} else {
		to = rep.FromVersion + " (kept)"
	}
	fmt.Fprintf(w, "  version:  %s -> %s\n", orDash(rep.FromVersion), orDash(to))
	for _, k := range p.Packages {
		prev := "no .deb at hand: apply refuses (packages.previous)"
		if k.Previous.File != "" {
			prev = "rollback reinstalls " + k.Previous.File
		}
		fmt.Fprintf(w, "  package:  %s %s -> %s with dpkg (%s; %s)\n", k.Name, orDash(k.Previous.Version), k.Version, k.File, prev)
	}
	for _, b := range p.Binaries {
		unit := p.UnitOf(b)
		if unit == "" {
			unit = "no unit"
		}
		fmt.Fprintf(w, "  swap:     %s <- %s (%s %s, %s)\n", b.Path, b.NewFile, p.ComponentOf(b).Name, orDash(b.ExpectedVersion), unit)
	}
	if units := p.Units(); len(units) > 0 {
		fmt.Fprintf(w, "  restart:  %s, in this order\n", strings.Join(units, ", "))
	}
	fmt.Fprintf(w, "  verify:   every running container keeps its PID and StartedAt")
	if len(p.Workloads) > 0 {
		fmt.Fprintf(w, "; probes every %s:\n", p.Workloads[0].Interval)
		for _, wl := range p.Workloads {
			fmt.Fprintf(w, "              %-16s %-5s %s\n", wl.Container, wl.Probe, wl.Address)
		}
	} else {
		fmt.Fprintln(w, " (no probes: add --probe)")
	}
	if p.Canary.Image != "" {
		fmt.Fprintf(w, "  canary:   %s %s (%s)\n", p.Canary.Image, strings.Join(p.Canary.Command, " "), canaryWhy)
	} else {
		fmt.Fprintf(w, "  canary:   none (%s): apply will report it skipped; name an image with --canary-image\n", canaryWhy)
	}
	fails, warns := rep.Count(checks.Fail), rep.Count(checks.Warn)
	fmt.Fprintf(w, "  checks:   %d ok, %d warn, %d fail\n", rep.Count(checks.OK), warns, fails)
	for _, r := range rep.Results {
		if r.Status == checks.Fail || r.Status == checks.Warn {
			fmt.Fprintf(w, "              [%s] %s: %s\n", strings.ToUpper(string(r.Status)), r.ID, r.Message)
		}
	}
	if fails > 0 {
		fmt.Fprintln(w, "  apply would refuse this plan until the failed checks are fixed.")
	}
	if file != "" && file != "-" {
		fmt.Fprintf(w, "\nwritten to %s; run: liveswap apply %s --dry-run\n", file, file)
	}
}

// expectVersions writes each new binary's version into the plan (after
// the pre-flight gate): apply checks that its component reports it once
// restarted.
func expectVersions(ctx context.Context, p *plan.Plan, insecure bool) error {
	for i := range p.Binaries {
		b := &p.Binaries[i]
		if b.ExpectedVersion != "" || b.NewFile == "" {
			continue
		}
		if _, out, err := checks.Identify(ctx, *b, insecure, 10*time.Second); err == nil {
			b.ExpectedVersion = checks.ExtractVersion(out)
		} // else binary.version reports it
	}
	return nil
}
