package main

import (
	"github.com/spf13/pflag"

	"github.com/liveswap/liveswap/plan"
)

// addTargetFlags registers the target flags preflight and plan share; their
// names are fixed (scripts and the Ansible playbook use them).
func addTargetFlags(f *pflag.FlagSet, t *plan.Flags) {
	f.StringVar(&t.Target, "target", "", "daemon kind: docker or liveswapd (default: from the unit's ExecStart, else docker)")
	f.StringVar(&t.Unit, "unit", "", "the daemon's systemd unit (default docker.service or liveswapd.service)")
	f.StringVar(&t.Systemd, "systemd", "", "systemd manager: system or user (default system)")
	f.StringVar(&t.Endpoint, "endpoint", "", "engine API socket, unix:///path.sock (default: from -H or daemon.json hosts)")
	f.StringVar(&t.DaemonConfig, "daemon-config", "", "daemon.json path (default: the unit's --config-file)")
	f.StringVar(&t.NewBinary, "new-binary", "", "the new daemon binary")
	f.StringVar(&t.SHA256, "sha256", "", "expected sha256 of --new-binary (from the release, not from the file)")
	f.BoolVar(&t.InsecureSkipChecksum, "insecure-skip-checksum", false, "do not require --sha256")
	f.BoolVar(&t.AllowMinor, "allow-minor", false, "a minor or major version jump warns instead of failing")
	f.BoolVar(&t.AllowDowngrade, "allow-downgrade", false, "a downgrade warns instead of failing")
}
