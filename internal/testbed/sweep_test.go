package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNamesPathIn(t *testing.T) {
	tests := []struct {
		s, dir string
		want   bool
	}{
		{"/usr/bin/dockerd --config-file /tmp/lsd-12/daemon.json", "/tmp/lsd-12", true},
		{"nginx -p /tmp/lsn-7", "/tmp/lsn-7", true},
		{"containerd-shim -address /tmp/lsd-12/exec/containerd.sock", "/tmp/lsd-12", true},
		{"dockerd --config-file /tmp/lsd-123/daemon.json", "/tmp/lsd-12", false},
		{"a /tmp/lsd-123/x then /tmp/lsd-12 itself", "/tmp/lsd-12", true},
		{"/tmp/lsd-12.old", "/tmp/lsd-12", false},
		{"sleep 30", "/tmp/lsd-12", false},
	}
	for _, tt := range tests {
		if got := namesPathIn(tt.s, tt.dir); got != tt.want {
			t.Errorf("namesPathIn(%q, %q) = %v, want %v", tt.s, tt.dir, got, tt.want)
		}
	}
}

// recorder is a T that records a fatal error and stops the calling
// function, as a test's Fatalf and Skipf do.
type recorder struct {
	fatal, skip string
	cleanups    []func()
}

type stopped struct{}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recorder) TempDir() string           { return os.TempDir() }
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...); panic(stopped{}) }
func (r *recorder) Skipf(f string, a ...any)  { r.skip = fmt.Sprintf(f, a...); panic(stopped{}) }
func (r *recorder) do(f func())               { defer func() { _ = recover() }(); f() }
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.do(r.cleanups[i])
	}
}

// TestShortDirFailsOnLeak: a process left running in a test's folder fails
// that test and is killed; one that exits on its own within the grace time
// (a shim after `docker rm`) is no leak.
func TestShortDirFailsOnLeak(t *testing.T) {
	tests := []struct {
		name     string
		command  string // run with its working directory in the folder; "" for none
		wantLeak bool
	}{
		{"nothing left", "", false},
		{"exits on its own shortly after", "sleep 0.3", false},
		{"left running", "sleep 60", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			var dir string
			r.do(func() { dir = shortDir(r, "lstest-") })
			var cmd *exec.Cmd
			if tt.command != "" {
				cmd = exec.Command("sh", "-c", tt.command)
				cmd.Dir = dir
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				go cmd.Wait() // reap it, as the daemon that started it would
			}
			r.end()
			if leaked := r.fatal != ""; leaked != tt.wantLeak {
				t.Fatalf("fatal %q, want a leak: %v", r.fatal, tt.wantLeak)
			}
			if tt.wantLeak && !strings.Contains(r.fatal, "outlived the test") {
				t.Errorf("fatal %q does not name the leak", r.fatal)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s not removed: %v", dir, err)
			}
			if cmd != nil {
				deadline := time.Now().Add(5 * time.Second)
				for syscall.Kill(cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if syscall.Kill(cmd.Process.Pid, 0) == nil {
					t.Errorf("pid %d still runs", cmd.Process.Pid)
				}
			}
		})
	}
}

// TestStartSystemdSkips: with LIVESWAP_E2E=off (or, by the same check, not
// root) a test that starts a manager is skipped before anything runs.
func TestStartSystemdSkips(t *testing.T) {
	t.Setenv("LIVESWAP_E2E", "off")
	r := &recorder{}
	r.do(func() { StartSystemd(r) })
	if !strings.Contains(r.skip, "LIVESWAP_E2E=off") || r.fatal != "" || len(r.cleanups) != 0 {
		t.Errorf("skip %q fatal %q, %d cleanups: want a skip before anything started", r.skip, r.fatal, len(r.cleanups))
	}
}
