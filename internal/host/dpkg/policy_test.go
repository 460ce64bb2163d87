package dpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPolicy puts liveswap's policy-rc.d in place over a host with and
// without its own, runs it as invoke-rc.d would (exit 101, request logged),
// and restores the host's — by Restore, and after a "crash" by the next
// run's RestoreLeftover, which finds the host's file by the marker alone.
func TestPolicy(t *testing.T) {
	tests := []struct {
		name  string
		host  string // the host's own policy; "" for none
		crash bool   // the run dies before Restore
	}{
		{"no host policy", "", false},
		{"host policy kept", "#!/bin/sh\nexit 0\n", false},
		{"no host policy, crash", "", true},
		{"host policy kept, crash", "#!/bin/sh\nexit 104\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, log := filepath.Join(dir, "usr", "sbin", "policy-rc.d"), filepath.Join(dir, "denied.log")
			os.MkdirAll(filepath.Dir(path), 0o755)
			if tt.host != "" {
				if err := os.WriteFile(path, []byte(tt.host), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			p, err := DenyActions(path, dir, "R1", log)
			if err != nil {
				t.Fatal(err)
			}
			err = exec.Command(path, "containerd.service", "restart").Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 101 {
				t.Fatalf("policy-rc.d: %v, want exit 101", err)
			}
			if d := p.Denied(); len(d) != 1 || d[0] != "containerd.service restart" {
				t.Errorf("denied = %q", d)
			}
			if got := Leftover(path); got != "R1" {
				t.Errorf("Leftover = %q while the policy is in place, want R1", got)
			}
			if tt.crash {
				run, err := RestoreLeftover(path)
				if err != nil || run != "R1" {
					t.Fatalf("RestoreLeftover = %q, %v; want R1", run, err)
				}
			} else if err := p.Restore(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			switch {
			case tt.host == "" && !os.IsNotExist(err):
				t.Errorf("the host had no policy-rc.d; after: %q, %v", b, err)
			case tt.host != "" && string(b) != tt.host:
				t.Errorf("the host's policy-rc.d is %q after, want %q (%v)", b, tt.host, err)
			}
			if run, err := RestoreLeftover(path); run != "" || err != nil {
				t.Errorf("a restored policy is left over: %q %v", run, err)
			}
		})
	}
}

// TestArchiveFile: apt names an epoch's colon %3a.
func TestArchiveFile(t *testing.T) {
	for _, tt := range []struct{ name, version, want string }{
		{"docker.io", "20.10.24+dfsg1-1+deb12u1+b6", "/a/docker.io_20.10.24+dfsg1-1+deb12u1+b6_amd64.deb"},
		{"x", "1:2.0-1", "/a/x_1%3a2.0-1_amd64.deb"},
	} {
		if got := ArchiveFile("/a", tt.name, tt.version, "amd64"); got != tt.want {
			t.Errorf("ArchiveFile(%s %s) = %s, want %s", tt.name, tt.version, got, tt.want)
		}
	}
}

// TestMadisonHas: a version counts as fetchable only when a source lists it.
func TestMadisonHas(t *testing.T) {
	out := " docker.io | 20.10.24+dfsg1-1+deb12u1+b6 | http://deb.debian.org/debian bookworm/main amd64 Packages\n"
	for _, tt := range []struct {
		version string
		want    bool
	}{{"20.10.24+dfsg1-1+deb12u1+b6", true}, {"20.10.5+dfsg1-1+deb11u4", false}, {"20.10.24", false}} {
		if got := madisonHas(out, tt.version); got != tt.want {
			t.Errorf("madisonHas(%s) = %v, want %v", tt.version, got, tt.want)
		}
	}
}
