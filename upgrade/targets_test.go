package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/plan"
)

func sumOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// entries lists the names in dir, to prove a refusal left it as it was.
func entries(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// TestSwapInRefusesSymlinkedTarget: with a target that is a symbolic link
// (as /usr/bin/dockerd -> /opt/docker/dockerd), link(2) made the "backup" a
// second link to the live file and the rename replaced the link, leaving
// the file the daemon runs in place. The swap is refused and nothing moves.
func TestSwapInRefusesSymlinkedTarget(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dockerd-real")
	write(t, real, "old")
	path := filepath.Join(dir, "dockerd")
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "new"), "new")
	s := Swap{Path: path, Staged: stagedName(path, "r1"), Backup: backupName(path, "1.0.3")}
	var fs OSFiles
	if err := fs.Stage(t.Context(), filepath.Join(dir, "new"), s.Staged, "", nil); err != nil {
		t.Fatal(err)
	}
	before := entries(t, dir)
	err := swapIn(fs, s)
	if err == nil || !strings.Contains(err.Error(), "symbolic link to "+real) || !strings.Contains(err.Error(), "name the real file") {
		t.Fatalf("swapIn of a symlinked target: %v, want a refusal naming %s", err, real)
	}
	if got := entries(t, dir); got != before {
		t.Errorf("files changed: %q, want %q", got, before)
	}
	if target, err := os.Readlink(path); err != nil || target != real || read(t, real) != "old" {
		t.Errorf("link %q (%v), real file %q: want both untouched", target, err, read(t, real))
	}
}

// TestStageRefusesSymlinkedTarget: the stage phase refuses a symlinked
// target before it copies anything (exit 1, nothing touched), naming the
// field and the file to name instead — also for a plan that never went
// through plan.Load (a resumed run's journaled plan).
func TestStageRefusesSymlinkedTarget(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "liveswapd-real")
	write(t, real, "old")
	path := filepath.Join(dir, "liveswapd")
	os.Symlink(real, path)
	newFile := filepath.Join(dir, "new")
	write(t, newFile, "new")
	p := &plan.Plan{Target: plan.Target{Kind: plan.Liveswapd},
		Binaries: []plan.Binary{{Path: path, NewFile: newFile, SHA256: sumOf("new")}}}
	p.Default()
	r, err := newRun(p, Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	before := entries(t, dir)
	err = r.stage(t.Context())
	if err == nil || !strings.Contains(err.Error(), "binaries[0].path") || !strings.Contains(err.Error(), "symbolic link to "+real) || !strings.Contains(err.Error(), "nothing was touched") {
		t.Fatalf("stage: %v", err)
	}
	if got := entries(t, dir); got != before {
		t.Errorf("files changed: %q, want %q", got, before)
	}
}

// TestSameExecutable runs a real process from a file and swaps what the
// path holds under it: the same file or the same content pass; another
// file at the path is refused with what to do.
func TestSameExecutable(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "liveswapd")
	write(t, path, read(t, sleep))
	cmd := exec.Command(path, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	// Wait for the exec to be done: /proc/PID/exe names the file then.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == path {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process did not exec the file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	sumA := sumOf(read(t, path))

	if err := SameExecutable(pid, path, sumA, "x.service"); err != nil {
		t.Errorf("the file it runs: %v", err)
	}
	// The same content under a new inode (a package reinstalled): same.
	write(t, path+".tmp", read(t, sleep))
	os.Rename(path+".tmp", path)
	if err := SameExecutable(pid, path, sumOf(read(t, path)), "x.service"); err != nil {
		t.Errorf("the same content, another inode: %v", err)
	}
	// Another binary at the path while the process runs the old one.
	write(t, path+".tmp", "#!/bin/sh\necho B\n")
	os.Rename(path+".tmp", path)
	sumB := sumOf(read(t, path))
	err = SameExecutable(pid, path, sumB, "x.service")
	for _, w := range []string{"the running daemon is not " + path, "x.service", sumA, sumB, "restart x.service first", "fix the binary path"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("another file at the path: %v, want it to mention %q", err, w)
		}
	}
}

// TestStatusChecksBackups: status advises `liveswap rollback` only with a
// backup that is a regular file holding the sha256 journaled before the
// swap; otherwise it says why rollback cannot restore it.
func TestStatusChecksBackups(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, backup, live string) // backup's recorded sha256 is sumOf("old")
		problem string                                  // "": usable
	}{
		{"a hard link of the old binary", func(t *testing.T, backup, live string) { write(t, backup, "old") }, ""},
		{"a symbolic link to the live file, which moved", func(t *testing.T, backup, live string) {
			os.Symlink(live, backup)
			os.Rename(live, live+".moved")
		}, "symbolic link"},
		{"a symbolic link that still resolves", func(t *testing.T, backup, live string) { os.Symlink(live, backup) }, "symbolic link"},
		{"changed since the swap", func(t *testing.T, backup, live string) { write(t, backup, "tampered") }, "not the old binary any more"},
		{"missing", func(t *testing.T, backup, live string) {}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, state := t.TempDir(), t.TempDir()
			path := filepath.Join(dir, "liveswapd")
			live := filepath.Join(dir, "liveswapd-1.0.3")
			write(t, live, "old")
			write(t, path, "new")
			sw := Swap{Path: path, Staged: stagedName(path, "r1"), Backup: backupName(path, "1.0.3"), FromVersion: "1.0.3", BackupSHA256: sumOf("old")}
			tt.setup(t, sw.Backup, live)
			j, err := OpenJournal(state)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []Entry{
				{Run: "r1", Phase: "lock", Status: "begin"},
				{Run: "r1", Phase: "swap", Status: "done", Swaps: []Swap{sw}},
				{Run: "r1", Phase: "end", Status: "end", Result: Upgraded},
			} {
				if err := j.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			st, err := ReadStatus(state)
			if err != nil {
				t.Fatal(err)
			}
			var backup *FileState
			for i, f := range st.Files {
				if f.Role == "backup" {
					backup = &st.Files[i]
				}
			}
			if backup == nil {
				t.Fatalf("no backup listed: %+v", st.Files)
			}
			if tt.problem == "" {
				if backup.Problem != "" || strings.Contains(st.Advice, "cannot restore") || !strings.Contains(st.Advice, "rollback` would restore") {
					t.Errorf("usable backup: problem %q, advice %q", backup.Problem, st.Advice)
				}
				return
			}
			if !strings.Contains(backup.Problem, tt.problem) {
				t.Errorf("problem %q, want it to mention %q", backup.Problem, tt.problem)
			}
			if !strings.Contains(st.Advice, "`liveswap rollback` cannot restore: backup "+sw.Backup) || !strings.Contains(st.Advice, "by hand") {
				t.Errorf("advice %q does not say that rollback cannot restore %s", st.Advice, sw.Backup)
			}
			// And rollback's own restore refuses the same backup.
			if err := swapBack(OSFiles{}, sw); err == nil || read(t, path) != "new" {
				t.Errorf("swapBack of an unusable backup: %v, target %q", err, read(t, path))
			}
		})
	}
}
