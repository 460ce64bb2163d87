package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

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
	f.StringVar(&t.NewBinary, "new-binary", "", "the new daemon binary")
	f.StringVar(&t.SHA256, "sha256", "", "expected sha256 of --new-binary (from the release, not from the file)")
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
