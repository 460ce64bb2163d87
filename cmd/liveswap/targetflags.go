package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/plan/discover"
)

// addTargetFlags registers the target flags preflight and plan share; their
// names are fixed (scripts and the Ansible playbook use them).
func addTargetFlags(f *pflag.FlagSet, t *discover.Flags) {
	f.StringVar(&t.Target, "target", "", "daemon kind: docker or liveswapd (default: from the unit's ExecStart, else docker)")
	f.StringVar(&t.Unit, "unit", "", "the daemon's systemd unit (default docker.service or liveswapd.service)")
	f.StringVar(&t.Systemd, "systemd", "", "systemd manager: system or user (default system)")
	f.StringVar(&t.Endpoint, "endpoint", "", "engine API socket, unix:///path.sock (default: from -H or daemon.json hosts)")
	f.StringVar(&t.DaemonConfig, "daemon-config", "", "daemon.json path (default: the unit's --config-file)")
	f.StringArrayVar(&t.NewBinary, "new-binary", nil, "a new binary of the stack (dockerd, containerd, containerd-shim-runc-v2, runc; known by what its version probe prints); repeat with --sha256 for each")
	f.StringArrayVar(&t.SHA256, "sha256", nil, "expected sha256 of the --new-binary before it (from the release, not from the file); one per --new-binary, in order")
	f.BoolVar(&t.InsecureSkipChecksum, "insecure-skip-checksum", false, "do not require --sha256")
	f.BoolVar(&t.AllowMinor, "allow-minor", false, "a minor version jump beyond the daemon's documented upgrade path warns instead of failing")
	f.BoolVar(&t.AllowMajor, "allow-major", false, "a major version jump (dockerd 20.10 -> 26.1, Debian stable to the next) warns instead of failing, with what was measured")
	f.BoolVar(&t.AllowDowngrade, "allow-downgrade", false, "a downgrade warns instead of failing (with --allow-minor or --allow-major for its size)")
}

// discoverTarget builds a plan from the target flags, reading the unit
// through its manager when that can be reached (when not, the plan falls
// back to defaults and the unit checks say why). The manager, nil when
// unreachable, is the caller's to close.
func discoverTarget(ctx context.Context, f discover.Flags, connect func(context.Context, systemd.Scope) (*systemd.Manager, error)) (*plan.Plan, *systemd.Manager, error) {
	scope := systemd.Scope(f.Systemd)
	if scope == "" {
		scope = systemd.System
	}
	var (
		units discover.UnitReader
		mgr   *systemd.Manager
	)
	if _, err := systemd.ParseScope(string(scope)); err == nil {
		if m, err := connect(ctx, scope); err == nil {
			mgr, units = m, m
		}
	}
	comps, err := identify(ctx, f)
	if err != nil {
		if mgr != nil {
			mgr.Close()
		}
		return nil, nil, err
	}
	f.Components = comps
	p, err := discover.FromFlags(ctx, f, units)
	if err != nil {
		if mgr != nil {
			mgr.Close()
		}
		return nil, nil, err
	}
	return p, mgr, nil
}

// planExcludesTargetFlags refuses target flags next to --plan: the plan
// describes the target, and two sources for it would be a guess.
func planExcludesTargetFlags(f *pflag.FlagSet, planFile string) error {
	if planFile == "" {
		return nil
	}
	var given []string
	for _, n := range targetFlagNames {
		if f.Changed(n) {
			given = append(given, "--"+n)
		}
	}
	if len(given) > 0 {
		return usageError(fmt.Sprintf("--plan describes the target: drop %s (or drop --plan)", strings.Join(given, ", ")))
	}
	return nil
}

// identify names the component of each new binary by what its version
// probe prints. A binary that does not pass the pre-flight gate (its
// checksum, owner, format) is not run: it is left to the binary checks,
// which report why. One that runs and names no component is a usage error.
func identify(ctx context.Context, f discover.Flags) ([]string, error) {
	if len(f.SHA256) > 0 && len(f.SHA256) != len(f.NewBinary) {
		return nil, nil // discover reports the unpaired flags
	}
	comps := make([]string, len(f.NewBinary))
	for i, nb := range f.NewBinary {
		abs, err := filepath.Abs(nb)
		if err != nil {
			return nil, fmt.Errorf("--new-binary %s: %w", nb, err)
		}
		b := plan.Binary{NewFile: abs}
		if i < len(f.SHA256) {
			b.SHA256 = strings.ToLower(strings.TrimSpace(f.SHA256[i]))
		}
		c, _, err := checks.Identify(ctx, b, f.InsecureSkipChecksum, 10*time.Second)
		if errors.Is(err, checks.ErrUnknownComponent) {
			return nil, fmt.Errorf("--new-binary: %w", err)
		}
		comps[i] = c
	}
	return comps, nil
}
