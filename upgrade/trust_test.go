package upgrade

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/state"
	"github.com/liveswap/liveswap/internal/host/state/statetest"
	"github.com/liveswap/liveswap/plan"
)

const nobody = statetest.Nobody

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to nobody")
	}
}

// TestUntrustedStateFolder: the state folder of issue 13 (made by nobody,
// 0777, with lock and journal.jsonl linked to root's files) and a journal
// written by nobody are refused by apply, resume, rollback and status; the
// files the links point at are untouched and so is the folder.
func TestUntrustedStateFolder(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, victim string)
		want  string
	}{
		{"0777 of nobody, lock and journal linked to root's files", func(t *testing.T, dir, victim string) {
			if err := statetest.Hostile(dir, victim); err != nil {
				t.Fatal(err)
			}
		}, "is owned by uid 65534"},
		{"a journal written by nobody", func(t *testing.T, dir, _ string) {
			j, err := OpenJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Begin("r1", validPlan(t)); err != nil {
				t.Fatal(err)
			}
			j.Append(Entry{Run: "r1", Phase: "swap", Status: "done", Swaps: []Swap{{Path: "/nonexistent/liveswapd", Backup: "/tmp/evil"}}})
			j.Close()
			os.Chown(filepath.Join(dir, state.JournalName), nobody, nobody)
		}, "journal.jsonl is owned by uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			victim := t.TempDir()
			for _, f := range []string{state.LockName, state.JournalName} {
				if err := os.WriteFile(filepath.Join(victim, f), []byte("root's "+f+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			base := t.TempDir()
			dir := filepath.Join(base, "state")
			os.Mkdir(dir, 0o700)
			tt.setup(t, dir, victim)
			victimBefore, stateBefore := statetest.Tree(victim), statetest.Tree(base)

			opts := Options{StateDir: dir, LockDir: t.TempDir()}
			rep, err := Apply(context.Background(), validPlan(t), opts)
			if err != nil || rep.Result != Refused || rep.ExitCode() != 1 || !strings.Contains(rep.Error, tt.want) || !strings.Contains(rep.Error, "not trusted") {
				t.Errorf("apply: %v, result %s, error %q; want refused naming %q", err, rep.Result, rep.Error, tt.want)
			}
			t.Logf("apply refused: %s", rep.Error)
			if _, err := Resume(context.Background(), opts); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("resume: %v, want ErrUntrusted naming %q", err, tt.want)
			}
			if _, err := Rollback(context.Background(), opts); !errors.Is(err, ErrUntrusted) {
				t.Errorf("rollback: %v, want ErrUntrusted", err)
			}
			if _, err := ReadStatus(dir); !errors.Is(err, ErrUntrusted) {
				t.Errorf("status: %v, want ErrUntrusted", err)
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

// elf copies this test's own binary (an ELF) to dir/name, root's and 0755.
func elf(t *testing.T, dir, name string) (path, sha string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sha, _ = checks.FileSHA256(path)
	return path, sha
}

// TestRecheck: just before the swap, every staged binary (or, for a run
// resumed after its swap, every swapped-in one) must be root's, writable
// by no one else, not a link, an ELF with the planned sha256.
func TestRecheck(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		swapped bool
		spoil   func(t *testing.T, staged, target string)
		want    string // "" passes
	}{
		{"as staged", false, func(*testing.T, string, string) {}, ""},
		{"owned by nobody", false, func(t *testing.T, staged, _ string) { os.Chown(staged, nobody, nobody) }, "owned by uid 65534"},
		{"writable by others", false, func(t *testing.T, staged, _ string) { os.Chmod(staged, 0o757) }, "writable by group or others"},
		{"a link to a good binary", false, func(t *testing.T, staged, _ string) {
			good, _ := elf(t, t.TempDir(), "good")
			os.Remove(staged)
			os.Symlink(good, staged)
		}, "symbolic link"},
		{"not an ELF", false, func(t *testing.T, staged, _ string) { os.WriteFile(staged, []byte("#!/bin/sh\nid\n"), 0o755) }, "not an ELF"},
		{"another ELF", false, func(t *testing.T, staged, _ string) {
			f, _ := os.OpenFile(staged, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("x")
			f.Close()
		}, "has sha256"},
		{"in a folder of nobody", false, func(t *testing.T, staged, _ string) { os.Chown(filepath.Dir(staged), nobody, nobody) }, "owned by uid 65534"},
		{"resumed after the swap: the file in place", true, func(*testing.T, string, string) {}, ""},
		{"resumed after the swap: replaced by nobody's", true, func(t *testing.T, _, target string) { os.Chown(target, nobody, nobody) }, "swapped-in binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bin")
			os.Mkdir(dir, 0o755)
			target, _ := elf(t, dir, "liveswapd")
			staged, sha := elf(t, dir, "liveswapd.liveswap-new-r1-0")
			if tt.swapped {
				os.Rename(staged, target)
			}
			tt.spoil(t, staged, target)
			p := validPlan(t)
			p.Binaries[0].Path, p.Binaries[0].SHA256 = target, sha
			r := &run{plan: p, swapped: tt.swapped, swaps: []Swap{{Path: target, Staged: staged, Backup: target + ".liveswap-backup-1"}}}
			_, err := r.recheck(context.Background())
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrUntrusted naming %q", err, tt.want)
			}
		})
	}
}

// TestFailOnUntrusted: a run refused by recheck ends refused (exit 1) and
// leaves the files as they are, even after an earlier process's swap.
func TestFailOnUntrusted(t *testing.T) {
	dir := t.TempDir()
	staged := filepath.Join(dir, "staged")
	os.WriteFile(staged, []byte("x"), 0o755)
	for _, resumed := range []bool{false, true} {
		for _, swapped := range []bool{false, true} {
			j, err := OpenJournal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			j.Begin("r1", validPlan(t))
			r := &run{plan: validPlan(t), opts: Options{Files: OSFiles{}}, report: &Report{Run: "r1"}, journal: j, swapped: swapped,
				swaps: []Swap{{Path: filepath.Join(dir, "t"), Staged: staged}}}
			if resumed {
				r.state = &RunState{Run: "r1"}
			}
			rep := r.fail(context.Background(), &PhaseError{Phase: &Phase{Name: "recheck"}, Err: fmt.Errorf("%w: staged binary x is owned by uid 65534", ErrUntrusted)})
			if rep.Result != Refused || rep.Remedy == "" {
				t.Errorf("resumed %v swapped %v: result %s remedy %q, want refused with a remedy", resumed, swapped, rep.Result, rep.Remedy)
			}
			if _, err := os.Stat(staged); err != nil {
				t.Errorf("resumed %v swapped %v: the staged file was removed: %v", resumed, swapped, err)
			}
			// A refused resume leaves its run unfinished; a new run refused
			// ends.
			if st, _ := j.Last(); st == nil || st.Ended() == resumed {
				t.Errorf("resumed %v swapped %v: journal %+v, want ended %v", resumed, swapped, st, !resumed)
			}
			j.Close()
		}
	}
}

// TestStagedNamesAreUnique: two runs (or a run and its resumption) never
// stage to one name, and staging never overwrites a file already there.
func TestStagedNamesAreUnique(t *testing.T) {
	if a, b := stagedName("/usr/bin/dockerd", "R1"), stagedName("/usr/bin/dockerd", "R1"); a == b {
		t.Fatalf("one name twice: %s", a)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "new"), filepath.Join(dir, "staged")
	os.WriteFile(src, []byte("new"), 0o755)
	os.WriteFile(dst, []byte("another run's"), 0o755)
	if err := (OSFiles{}).Stage(context.Background(), src, dst, "", nil); err == nil {
		t.Fatal("staged over an existing file")
	}
	if b, _ := os.ReadFile(dst); string(b) != "another run's" {
		t.Fatalf("the existing file became %q", b)
	}
}

// TestJournalIsBounded: the plan is kept beside the journal (a line stays
// short whatever the plan); a journal line over state.MaxLine is an error
// naming file:line for status, resume, rollback and pre-flight, not a
// hang or a panic; a plan file changed after the run began is refused.
func TestJournalIsBounded(t *testing.T) {
	t.Run("plan beside the journal", func(t *testing.T) {
		dir := t.TempDir()
		j, err := OpenJournal(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		p := validPlan(t)
		for i := 0; i < 2000; i++ {
			p.Workloads = append(p.Workloads, plan.Workload{Container: fmt.Sprintf("web-%d", i), Probe: "tcp", Address: "127.0.0.1:80"})
		}
		if err := j.Begin("r1", p); err != nil {
			t.Fatal(err)
		}
		j.Append(Entry{Run: "r1", Phase: "swap", Status: "failed", Error: strings.Repeat("e", 1<<20)})
		b, _ := os.ReadFile(filepath.Join(dir, state.JournalName))
		for i, l := range bytes.Split(b, []byte("\n")) {
			if len(l) > 64<<10 {
				t.Errorf("line %d is %d bytes", i+1, len(l))
			}
		}
		st, err := j.Last()
		if err != nil || st.Plan == nil || len(st.Plan.Workloads) != 2000 || st.Unit != "x.service" {
			t.Fatalf("last: %+v, %v", st, err)
		}
		// The plan file changed after the run began: nothing trusts it.
		pf := filepath.Join(dir, planFile("r1"))
		pb, _ := os.ReadFile(pf)
		os.WriteFile(pf, bytes.Replace(pb, []byte("x.service"), []byte("y.service"), 1), 0o600)
		if _, err := Resume(context.Background(), Options{StateDir: dir}); err == nil || !strings.Contains(err.Error(), "changed since the run began") {
			t.Fatalf("resume with a changed plan: %v", err)
		}
	})
	t.Run("a 17 MB line", func(t *testing.T) {
		dir := t.TempDir()
		j, err := OpenJournal(dir)
		if err != nil {
			t.Fatal(err)
		}
		j.Begin("r1", validPlan(t))
		j.Close()
		f, _ := os.OpenFile(filepath.Join(dir, state.JournalName), os.O_APPEND|os.O_WRONLY, 0)
		f.Write(append(append([]byte(`{"run":"r1","phase":"swap","status":"done","error":"`), bytes.Repeat([]byte("x"), 17<<20)...), `"}`+"\n"...))
		f.Close()
		want := filepath.Join(dir, state.JournalName) + ":2"
		_, err1 := ReadStatus(dir)
		_, err2 := Resume(context.Background(), Options{StateDir: dir})
		_, err3 := Rollback(context.Background(), Options{StateDir: dir})
		rep, err4 := Apply(context.Background(), validPlan(t), Options{StateDir: dir, LockDir: t.TempDir()})
		for i, err := range []error{err1, err2, err3} {
			if !errors.Is(err, state.ErrLineTooLong) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "move it aside") {
				t.Errorf("reader %d: %v, want a line-too-long error naming %s and a remedy", i, err, want)
			}
		}
		if err4 != nil || rep.Result != Refused || !strings.Contains(rep.Error, want) {
			t.Errorf("apply: %v %s %q, want refused naming %s", err4, rep.Result, rep.Error, want)
		}
		env := checks.NewEnv(validPlan(t), checks.Options{StateDir: dir, LockDir: t.TempDir()})
		var journal *checks.Result
		for _, c := range checks.PreflightChecks() {
			if c.ID == "host.journal" {
				r := c.Func(context.Background(), env)
				journal = &r
			}
		}
		if journal == nil || journal.Status != checks.Fail || !strings.Contains(journal.Message, want) {
			t.Errorf("pre-flight host.journal: %+v, want fail naming %s", journal, want)
		}
	})
	t.Run("an entry too long to write", func(t *testing.T) {
		j, err := OpenJournal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		big := make([]Swap, 0, 5000)
		for i := 0; i < 5000; i++ {
			big = append(big, Swap{Path: strings.Repeat("p", 300)})
		}
		if err := j.Append(Entry{Run: "r1", Phase: "stage", Status: "done", Swaps: big}); err == nil || !strings.Contains(err.Error(), "over the") {
			t.Fatalf("an entry over state.MaxEntry was written: %v", err)
		}
	})
}

// TestStatusNamesPlanError: when the run's plan file changed after the
// run began, status says that resume and rollback will refuse, and why.
func TestStatusNamesPlanError(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Begin("r0", validPlan(t)); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{Run: "r0", Phase: "swap", Status: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, planFile("r0")), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.PlanError, "changed since the run began") || !strings.Contains(s.Advice, "refuse") {
		t.Errorf("status: plan error %q, advice %q; want the changed plan named and resume/rollback said to refuse", s.PlanError, s.Advice)
	}
}
