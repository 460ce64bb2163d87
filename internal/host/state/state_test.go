package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/state/statetest"
)

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	if held, _, err := Holder(dir); held || err != nil {
		t.Fatalf("before any lock: held %v, %v", held, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	held, by, err := Holder(dir)
	if !held || by.PID != os.Getpid() || err != nil {
		t.Fatalf("while held: held %v by %v, %v", held, by, err)
	}
	l.Release()
	if held, _, _ := Holder(dir); held {
		t.Fatal("still held after release")
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

// TestTargetLockSpansStateFolders: two runs with different state folders
// take the same unit's lock in one lock folder; the second is refused and
// told who holds it and with which state folder.
func TestTargetLockSpansStateFolders(t *testing.T) {
	locks, stateA, stateB := t.TempDir(), t.TempDir(), t.TempDir()
	unit := Target{Kind: "unit", ID: "user docker.service"}
	file := Target{Kind: "file", ID: "/usr/bin/dockerd"}
	a, err := AcquireTargets(locks, stateA, []Target{unit, file})
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireTargets(locks, stateB, []Target{{Kind: "unit", ID: "user other.service"}, file})
	want := fmt.Sprintf("locked by pid %d (state dir %s)", os.Getpid(), stateA)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "/usr/bin/dockerd") {
		t.Fatalf("second run: %v, want ErrLocked naming the file and %q", err, want)
	}
	// All or none: the refused run left the other unit unlocked.
	if held, _, _, err := TargetHolder(locks, []Target{{Kind: "unit", ID: "user other.service"}}); held || err != nil {
		t.Fatalf("the refused run kept a lock: %v %v", held, err)
	}
	held, what, by, err := TargetHolder(locks, []Target{unit})
	if !held || what != unit.String() || by.StateDir != stateA || err != nil {
		t.Fatalf("holder: %v %q %v %v", held, what, by, err)
	}
	a.Release()
	b, err := AcquireTargets(locks, stateB, []Target{unit, file})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release()
}

func TestLockNamesAreDistinct(t *testing.T) {
	ids := []Target{
		{"file", "/usr/bin/dockerd"}, {"file", "/usr-bin/dockerd"}, {"file", "/usr/bin-dockerd"},
		{"file", `/usr\x2dbin/dockerd`}, {"unit", "/usr/bin/dockerd"}, {"file", "/a/" + strings.Repeat("x", 300)},
		{"file", "/a/" + strings.Repeat("x", 299) + "y"}, {"file", "/.."}, {"unit", "user docker.service"},
	}
	seen := map[string]Target{}
	for _, id := range ids {
		n := id.lockName()
		if strings.Contains(n, "/") || len(n) > 255 || strings.HasPrefix(n, ".") {
			t.Errorf("%v: bad file name %q", id, n)
		}
		if prev, dup := seen[n]; dup {
			t.Errorf("%v and %v share %q", id, prev, n)
		}
		seen[n] = id
	}
}

const nobody = 65534

// TestUntrustedFolders: a state folder another user could change, or one
// holding something another user could change, is refused with a remedy,
// and the files it pointed at are untouched.
func TestUntrustedFolders(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to nobody")
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, base, victim string) string // returns the state folder
		want  string                                         // in the error; "" accepts
	}{
		{"root-owned 0700", func(t *testing.T, base, _ string) string { return mkdir(t, base, "s", 0o700, 0) }, ""},
		{"missing: made 0700", func(t *testing.T, base, _ string) string { return filepath.Join(base, "new", "state") }, ""},
		{"under a sticky root-owned 1777 folder", func(t *testing.T, base, _ string) string {
			return mkdir(t, mkdir(t, base, "tmp", 0o1777, 0), "s", 0o700, 0)
		}, ""},
		{"through a root-owned link", func(t *testing.T, base, _ string) string {
			s := mkdir(t, base, "s", 0o700, 0)
			symlink(t, s, filepath.Join(base, "link"), 0)
			return filepath.Join(base, "link")
		}, ""},
		{"0777 of nobody with lock and journal linked to root's files", func(t *testing.T, base, victim string) string {
			s := mkdir(t, base, "s", 0o777, nobody)
			symlink(t, filepath.Join(victim, "a"), filepath.Join(s, LockName), nobody)
			symlink(t, filepath.Join(victim, "b"), filepath.Join(s, JournalName), nobody)
			return s
		}, "owned by uid 65534"},
		{"root-owned 0777", func(t *testing.T, base, _ string) string { return mkdir(t, base, "s", 0o777, 0) }, "writable by group or others"},
		{"a journal written by nobody", func(t *testing.T, base, _ string) string {
			s := mkdir(t, base, "s", 0o700, 0)
			writeFile(t, filepath.Join(s, JournalName), 0o600, nobody)
			return s
		}, "journal.jsonl is owned by uid 65534"},
		{"a journal others may write", func(t *testing.T, base, _ string) string {
			s := mkdir(t, base, "s", 0o700, 0)
			writeFile(t, filepath.Join(s, JournalName), 0o666, 0)
			return s
		}, "writable by group or others"},
		{"a journal that is root's link", func(t *testing.T, base, victim string) string {
			s := mkdir(t, base, "s", 0o700, 0)
			symlink(t, filepath.Join(victim, "b"), filepath.Join(s, JournalName), 0)
			return s
		}, "is a symbolic link"},
		{"under a folder of nobody", func(t *testing.T, base, _ string) string {
			return mkdir(t, mkdir(t, base, "home", 0o755, nobody), "s", 0o700, 0)
		}, "home is owned by uid 65534"},
		{"under a 0777 folder without the sticky bit", func(t *testing.T, base, _ string) string {
			return mkdir(t, mkdir(t, base, "open", 0o777, 0), "s", 0o700, 0)
		}, "not sticky"},
		{"through nobody's link in a sticky folder", func(t *testing.T, base, _ string) string {
			s := mkdir(t, base, "s", 0o700, 0)
			tmp := mkdir(t, base, "tmp", 0o1777, 0)
			symlink(t, s, filepath.Join(tmp, "link"), nobody)
			return filepath.Join(tmp, "link")
		}, "link is owned by uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, victim := mkdir(t, t.TempDir(), "base", 0o755, 0), t.TempDir()
			writeFile(t, filepath.Join(victim, "a"), 0o600, 0)
			writeFile(t, filepath.Join(victim, "b"), 0o600, 0)
			before := statetest.Tree(victim)
			dir := tt.setup(t, base, victim)
			beforeState := statetest.Tree(base)

			f, openErr := Open(dir, true)
			f.Close()
			l, lockErr := Acquire(dir)
			l.Release()
			_, _, holdErr := Holder(dir)
			for _, err := range []error{openErr, lockErr, holdErr} {
				if tt.want == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					continue
				}
				if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want ErrUntrusted naming %q", err, tt.want)
				}
			}
			if tt.want != "" {
				t.Logf("refused: %v", openErr)
				if got := statetest.Tree(base); got != beforeState {
					t.Errorf("the refused folder changed:\n%s\nwant\n%s", got, beforeState)
				}
			}
			if got := statetest.Tree(victim); got != before {
				t.Errorf("files the state folder pointed at changed:\n%s\nwant\n%s", got, before)
			}
		})
	}
}

func mkdir(t *testing.T, parent, name string, mode os.FileMode, uid int) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	// Chmod after Mkdir: the umask would clear the bits under test.
	if err := os.Chmod(p, mode&os.ModePerm|modeBits(mode)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
	return p
}

// modeBits turns the 01000 of an octal literal into os.ModeSticky.
func modeBits(mode os.FileMode) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

func symlink(t *testing.T, target, link string, uid int) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, mode os.FileMode, uid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte("root's data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// TestLines: lines come back with their numbers; a line over the limit is
// an error naming file:line and the way out, read in bounded memory.
func TestLines(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    []string
		wantErr string
	}{
		{"plain", "a\nbb\n", []string{"1:a", "2:bb"}, ""},
		{"torn last line", "a\nb", []string{"1:a", "2:b"}, ""},
		{"empty", "", nil, ""},
		{"at the limit", strings.Repeat("x", 16) + "\n", []string{"1:" + strings.Repeat("x", 16)}, ""},
		{"over the limit", "a\n" + strings.Repeat("x", 17) + "\nc\n", []string{"1:a"}, "j.jsonl:2: line too long"},
		{"over the limit, last line", "a\n" + strings.Repeat("x", 17), []string{"1:a"}, "j.jsonl:2: line too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := Lines(strings.NewReader(tt.input), "j.jsonl", 16, func(n int, l []byte) error {
				got = append(got, fmt.Sprintf("%d:%s", n, l))
				return nil
			})
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "move it aside")) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestLinesHugeLine: a 17 MB line is refused after reading about MaxLine
// of it, not held whole.
func TestLinesHugeLine(t *testing.T) {
	r := io.MultiReader(strings.NewReader("{}\n"), bytes.NewReader(bytes.Repeat([]byte("x"), 17<<20)), strings.NewReader("\n{}\n"))
	calls := 0
	err := Lines(r, "journal.jsonl", MaxLine, func(int, []byte) error { calls++; return nil })
	if !errors.Is(err, ErrLineTooLong) || !strings.Contains(err.Error(), "journal.jsonl:2") || calls != 1 {
		t.Fatalf("error %v after %d lines, want journal.jsonl:2 too long after 1", err, calls)
	}
}
