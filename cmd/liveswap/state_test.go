package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/state/statetest"
)

// liveswap runs the CLI in-process and returns its exit status and output.
func liveswap(t *testing.T, args ...string) (code int, out string) {
	t.Helper()
	r := newRootCmd()
	var b bytes.Buffer
	r.SetOut(&b)
	r.SetErr(&b)
	r.SetIn(strings.NewReader(""))
	r.SetArgs(args)
	err := r.Execute()
	if err != nil {
		fmt.Fprintf(&b, "\nerror: %v", err)
	}
	return exitCode(err), b.String()
}

// cliPlan writes a plan whose files exist (copies of this test binary, an
// ELF) but whose daemon does not: nothing may get as far as reaching it.
func cliPlan(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	self, _ := os.Executable()
	b, _ := os.ReadFile(self)
	cur, next := filepath.Join(dir, "liveswapd"), filepath.Join(dir, "liveswapd.new")
	os.WriteFile(cur, b, 0o755)
	os.WriteFile(next, b, 0o755)
	sum := sha256.Sum256(b)
	path := filepath.Join(dir, "plan.yaml")
	body := fmt.Sprintf(`apiVersion: liveswap/v1
kind: UpgradePlan
target: {kind: liveswapd, unit: lsx-%d.service, systemd: user, endpoint: "unix://%s/none.sock"}
binaries:
- {path: %q, newFile: %q, sha256: %s}
`, os.Getpid(), dir, cur, next, hex.EncodeToString(sum[:])) + extra
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUntrustedStateDir is issue 13's finding 3 at the CLI: as nobody, a
// 0777 --state-dir with lock and journal.jsonl linked to root's files, or
// a journal written by nobody. Every command refuses it naming the owner,
// and neither root's files nor the folder change.
func TestUntrustedStateDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to nobody")
	}
	t.Setenv("LIVESWAP_LOCK_DIR", t.TempDir())
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, victim string)
		want  string
	}{
		{"0777 of nobody, lock and journal linked to root's files", func(t *testing.T, dir, victim string) {
			if err := statetest.Hostile(dir, victim); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534"},
		{"a journal written by nobody", func(t *testing.T, dir, victim string) {
			j := filepath.Join(dir, "journal.jsonl")
			lines := fmt.Sprintf(`{"run":"r1","phase":"lock","status":"begin","plan":{"target":{"kind":"liveswapd","unit":"x.service","systemd":"user","endpoint":"unix:///none.sock"},"binaries":[{"path":%q,"newFile":"/bin/true"}]}}
{"run":"r1","phase":"swap","status":"done","swaps":[{"path":%q,"staged":%q,"backup":%q}]}
`, filepath.Join(victim, "lock"), filepath.Join(victim, "lock"), filepath.Join(victim, "x"), filepath.Join(victim, "journal.jsonl"))
			os.WriteFile(j, []byte(lines), 0o600)
			os.Chown(j, statetest.Nobody, statetest.Nobody)
		}, "journal.jsonl is owned by uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			victim := t.TempDir()
			for _, f := range []string{"lock", "journal.jsonl"} {
				os.WriteFile(filepath.Join(victim, f), []byte("root's "+f+"\n"), 0o600)
			}
			base := t.TempDir()
			dir := filepath.Join(base, "state")
			os.Mkdir(dir, 0o700)
			tt.setup(t, dir, victim)
			victimBefore, stateBefore := statetest.Tree(victim), statetest.Tree(base)
			planFile := cliPlan(t, "")
			for _, c := range []struct {
				args []string
				code int
			}{
				{[]string{"apply", planFile, "--yes", "--skip", "all", "--output", "json"}, 1},
				{[]string{"apply", "--resume", "--yes"}, 2},
				{[]string{"rollback", "--yes"}, 2},
				{[]string{"status"}, 2},
				{[]string{"preflight", "--plan", planFile, "--output", "json"}, 1},
			} {
				code, out := liveswap(t, append(c.args, "--state-dir", dir)...)
				if code != c.code || !strings.Contains(out, tt.want) || !strings.Contains(out, "not trusted") {
					t.Errorf("%s: exit %d, want %d naming %q:\n%s", strings.Join(c.args[:1], " "), code, c.code, tt.want, out)
				}
			}
			if got := statetest.Tree(victim); got != victimBefore {
				t.Errorf("root's files changed:\n%s\nwant\n%s", got, victimBefore)
			}
			if got := statetest.Tree(base); got != stateBefore {
				t.Errorf("the refused state folder changed:\n%s\nwant\n%s", got, stateBefore)
			}
		})
	}
}

// TestBounds is finding 7 at the CLI: a plan over 1 MiB is refused naming
// the file and the limit; a journal line of 17 MB makes status exit 2
// naming journal.jsonl:LINE with a remedy (no hang, no panic).
func TestBounds(t *testing.T) {
	t.Setenv("LIVESWAP_LOCK_DIR", t.TempDir())
	t.Run("plan over 1 MiB", func(t *testing.T) {
		big := cliPlan(t, "# "+strings.Repeat("x", 1<<20)+"\n")
		for _, args := range [][]string{
			{"apply", big, "--dry-run", "--skip", "all", "--state-dir", t.TempDir()},
			{"preflight", "--plan", big, "--skip", "all", "--state-dir", t.TempDir()},
		} {
			code, out := liveswap(t, args...)
			if code != 2 || !strings.Contains(out, big) || !strings.Contains(out, "1 MiB") {
				t.Errorf("%s: exit %d, want 2 naming %s and the limit:\n%.2000s", args[0], code, big, out)
			}
		}
	})
	t.Run("journal line of 17 MB", func(t *testing.T) {
		dir := t.TempDir()
		j := filepath.Join(dir, "journal.jsonl")
		body := []byte(`{"run":"r1","phase":"lock","status":"begin"}` + "\n" + `{"run":"r1","phase":"swap","status":"done","error":"`)
		body = append(append(body, bytes.Repeat([]byte("x"), 17<<20)...), "\"}\n"...)
		os.WriteFile(j, body, 0o600)
		done := make(chan struct{})
		var code int
		var out string
		go func() { code, out = liveswap(t, "status", "--state-dir", dir); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("status hangs on a 17 MB journal line")
		}
		if code != 2 || !strings.Contains(out, j+":2") || !strings.Contains(out, "move it aside") {
			t.Errorf("status: exit %d, want 2 naming %s:2 and a remedy:\n%.2000s", code, j, out)
		}
	})
}
