// Package testbed starts the real components liveswap runs against — a
// private systemd user manager, isolated dockerd and liveswapd instances,
// nginx and redis containers — and guarantees they are all stopped when a
// test ends, even when it fails. The end-to-end tests, the upgrade benchmark
// and `liveswap demo` share it, so it takes a T rather than *testing.T, as
// moby's testutil/daemon does; the demo's scene (Demo) returns errors.
package testbed

import (
	"flag"
	"os"
	"os/exec"
)

// T is what the testbed needs of a test; testing.TB satisfies it. Fatalf
// must not return, as a test's does not.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Skipper is a T that can skip, as a test can.
type Skipper interface {
	T
	Skipf(format string, args ...any)
}

// Paths of the real components; the docker.io CLI is the witness, not a
// newer client that may sit earlier on PATH.
const (
	SystemdBin = "/usr/lib/systemd/systemd"
	DockerdBin = "/usr/sbin/dockerd"
	DockerBin  = "/usr/bin/docker"
	NginxBin   = "/usr/sbin/nginx"
	RedisBin   = "/usr/bin/redis-server"
)

// Require skips t unless end-to-end tests can run here: root and every named
// binary (absolute paths or names on PATH). With LIVESWAP_E2E=require (as
// `make test` sets) a missing prerequisite fails the test instead, so CI can
// never pass by skipping; LIVESWAP_E2E=off skips every end-to-end test.
// StartSystemd calls it too, so a test that starts a manager skips (or
// fails) here rather than in unshare.
func Require(t Skipper, bins ...string) {
	t.Helper()
	mode := os.Getenv("LIVESWAP_E2E")
	if mode == "off" {
		t.Skipf("end-to-end tests disabled by LIVESWAP_E2E=off")
	}
	if short() && mode != "require" {
		t.Skipf("end-to-end test skipped in -short mode")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, b := range append([]string{SystemdBin, "unshare"}, bins...) {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "end-to-end test needs %v (run `make deps` as root, or `make test`)"
	if mode == "require" {
		t.Fatalf(msg, missing)
	}
	t.Skipf(msg, missing)
}

// short is testing.Short read through the flag it registers: the package
// stays free of "testing", which would otherwise be linked into liveswap.
func short() bool {
	f := flag.Lookup("test.short")
	return f != nil && f.Value.String() == "true"
}
