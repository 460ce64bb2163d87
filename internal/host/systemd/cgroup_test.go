package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestEndCgroup puts a process in a manager's cgroup in two hierarchies
// (as a unit of it and as a container of a dockerd below it would be):
// ending the cgroup kills it and removes every folder.
func TestEndCgroup(t *testing.T) {
	if os.Geteuid() != 0 || os.Getenv("LIVESWAP_E2E") == "off" {
		t.Skip("needs root and a writable cgroup file system")
	}
	name := mgrPrefix + "test-" + strconv.Itoa(os.Getpid())
	_, dirs := makeCgroup(name)
	if len(dirs) == 0 {
		t.Skip("cgroup file system not writable here")
	}
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	go sleeper.Wait()
	// A unit's folder below the manager's, and a v1 controller's.
	extra := filepath.Join(cgroupRoot, "pids", name, "docker", "c1")
	for _, d := range append([]string{filepath.Join(dirs[0], "app.slice", "u.service")}, extra) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Skipf("cannot make %s: %v", d, err)
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	killed := endCgroup(name)
	if len(killed) != 1 {
		t.Errorf("killed %q, want the sleeper alone", killed)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(sleeper.Process.Pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := subtrees(name); len(left) > 0 {
		t.Errorf("folders left: %v", left)
	}
}
