// Package testbed starts the real components liveswap's end-to-end tests run
// against — a private systemd user manager, isolated dockerd instances,
// nginx and redis containers — and guarantees they are all stopped when a
// test ends, even when it fails.
package testbed

import (
	"os"
	"os/exec"
	"testing"
)

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
func Require(t testing.TB, bins ...string) {
	t.Helper()
	mode := os.Getenv("LIVESWAP_E2E")
	if mode == "off" {
		t.Skip("end-to-end tests disabled by LIVESWAP_E2E=off")
	}
	if testing.Short() && mode != "require" {
		t.Skip("end-to-end test skipped in -short mode")
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
