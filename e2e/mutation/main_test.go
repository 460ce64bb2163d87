package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	src := []byte("if a > b {\n\treturn 1\n}\nif c > d {\n\treturn 1\n}\n")
	tests := []struct {
		name, original, replacement string
		want                        string // "" when stale
		count                       int
	}{
		{"once", "if a > b {", "if false && a > b {", "if false && a > b {\n\treturn 1\n}\nif c > d {\n\treturn 1\n}\n", 1},
		{"multi-line anchor", "if c > d {\n\treturn 1", "if c > d {\n\treturn 2", "if a > b {\n\treturn 1\n}\nif c > d {\n\treturn 2\n}\n", 1},
		{"absent", "if e > f {", "x", "", 0},
		{"twice", "\treturn 1", "\treturn 2", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apply(src, "f.go", tt.original, tt.replacement)
			var se *StaleError
			switch {
			case tt.want == "" && (!errors.As(err, &se) || se.Count != tt.count):
				t.Fatalf("err = %v, want stale with count %d", err, tt.count)
			case tt.want != "" && (err != nil || string(got) != tt.want):
				t.Fatalf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestTableIsFresh is the check's cheapest half, run by `make test`: every
// original text still occurs exactly once, so an edit to a verdict line
// shows here rather than as a mutation that silently stopped applying.
func TestTableIsFresh(t *testing.T) {
	if bad := validate(table, absent); len(bad) > 0 {
		t.Fatalf("malformed table:\n%s", strings.Join(bad, "\n"))
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range table {
		src, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			t.Errorf("%s: %v", m.ID, err)
			continue
		}
		if _, err := apply(src, m.File, m.Original, m.Replacement); err != nil {
			t.Errorf("%s is stale: %v", m.ID, err)
		}
		for _, s := range m.Tests {
			if _, err := os.Stat(filepath.Join(root, s.Pkg)); err != nil {
				t.Errorf("%s: test package %s: %v", m.ID, s.Pkg, err)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	good := Mutation{ID: "a.b", Verdict: "v", File: "f.go", Original: "x", Replacement: "y", Tests: []Step{{Pkg: "./p"}}, Why: "w"}
	tests := []struct {
		name   string
		change func(m *Mutation)
		want   string // "" for valid
	}{
		{"valid", func(*Mutation) {}, ""},
		{"ID without a group", func(m *Mutation) { m.ID = "pid" }, "dotted"},
		{"upper case ID", func(m *Mutation) { m.ID = "Compare.PID" }, "dotted"},
		{"no change", func(m *Mutation) { m.Replacement = m.Original }, "must differ"},
		{"no test", func(m *Mutation) { m.Tests = nil }, "no test"},
		{"absolute package", func(m *Mutation) { m.Tests = []Step{{Pkg: "github.com/x"}} }, "not relative"},
		{"bad regexp", func(m *Mutation) { m.Tests = []Step{{Pkg: "./e2e", Run: "TestX("}} }, "-run"},
		{"no why", func(m *Mutation) { m.Why = "" }, "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.change(&m)
			bad := strings.Join(validate([]Mutation{m}, nil), "\n")
			if (tt.want == "") != (bad == "") || !strings.Contains(bad, tt.want) {
				t.Errorf("validate = %q, want %q", bad, tt.want)
			}
		})
	}
	if bad := validate([]Mutation{good, good}, nil); len(bad) != 1 || !strings.Contains(bad[0], "duplicate") {
		t.Errorf("duplicate IDs: %q", bad)
	}
	if bad := validate([]Mutation{good}, []Absent{{ID: "a.b"}}); len(bad) != 1 {
		t.Errorf("an absent verdict with a mutation's ID: %q", bad)
	}
}

func TestSelectMutations(t *testing.T) {
	tbl := []Mutation{{ID: "compare.pid"}, {ID: "compare.gone"}, {ID: "comparex.y"}, {ID: "exit.refused"}, {ID: "checks.unit.type"}}
	tests := []struct {
		only, want, err string
	}{
		{"", "compare.pid compare.gone comparex.y exit.refused checks.unit.type", ""},
		{"compare", "compare.pid compare.gone", ""},
		{"compare.*, exit.refused", "compare.pid compare.gone exit.refused", ""},
		{"checks.unit", "checks.unit.type", ""},
		{"exit.refused,compare.gone", "compare.gone exit.refused", ""}, // table order
		{"exit.nope,compare", "", "exit.nope"},
	}
	for _, tt := range tests {
		got, err := selectMutations(tbl, tt.only)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want one naming %s", tt.only, err, tt.err)
			}
			continue
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		if err != nil || strings.Join(ids, " ") != tt.want {
			t.Errorf("%q = %v, %v; want %s", tt.only, ids, err, tt.want)
		}
	}
}

func TestParseTestJSON(t *testing.T) {
	events := []string{
		`{"Action":"start","Package":"p"}`,
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestB"}`,
		`{"Action":"run","Package":"p","Test":"TestB/gone"}`,
		`{"Action":"output","Package":"p","Test":"TestB/gone","Output":"    x_test.go:9: interrupted = false ()\n"}`,
		`{"Action":"output","Package":"p","Test":"TestB/gone","Output":"--- FAIL: TestB/gone (0.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB/gone"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`not json: a build line`,
		`{"Action":"run","Package":"p","Test":"TestC"}`,
		`{"Action":"fail","Package":"p","Test":"TestC"}`,
		`{"Action":"fail","Package":"p","Elapsed":1.5}`,
	}
	tr := parseTestJSON(strings.NewReader(strings.Join(events, "\n")))
	want := testRun{Ran: 4, Failed: []string{"TestB/gone", "TestC"}, Excerpt: []string{"x_test.go:9: interrupted = false ()"}, Events: 13, Elapsed: 1.5}
	if !reflect.DeepEqual(tr, want) {
		t.Errorf("= %+v\nwant %+v", tr, want)
	}
	if tr := parseTestJSON(strings.NewReader("# pkg\nx.go:1: syntax error\n")); tr.Events != 0 || tr.Ran != 0 {
		t.Errorf("build output only: %+v", tr)
	}
}

func TestStepLocked(t *testing.T) {
	for pkg, want := range map[string]bool{"./e2e": true, "./e2e/bench/upgrade": true, "./internal/host/engine": true,
		"./checks/daemonjson": true, "./checks": false, "./e2ex": false, "./upgrade": false} {
		if got := (Step{Pkg: pkg}).Locked(); got != want {
			t.Errorf("%s: locked = %v, want %v", pkg, got, want)
		}
	}
}

func TestReports(t *testing.T) {
	started := time.Now().Add(-90 * time.Second)
	results := []Result{
		{ID: "compare.pid", Verdict: "pid | changed", Status: Caught, CaughtBy: []string{"./upgrade: TestCompare/new_pid", "./e2e: TestApply/x", "./e2e: TestApply/y"}, Seconds: 4},
		{ID: "judge.probe-failures", Verdict: "probes", Status: Uncaught, Steps: []StepResult{{Pkg: "./upgrade", Status: StepPassed}, {Pkg: "./e2e", Run: "^TestApply$", Status: StepPassed}}, Seconds: 40},
		{ID: "exit.failed", Verdict: "exit 4", Status: Stale, Detail: "upgrade/report.go: the original text is not there"},
	}
	s := summarize("/m", started, 30*time.Second, results, []Absent{{ID: "compare.keyspace", Note: "no rule"}})
	if s.Passed() || s.Counts[Caught] != 1 || s.Counts[Uncaught] != 1 || s.Counts[Stale] != 1 {
		t.Fatalf("summary %+v", s)
	}

	var b bytes.Buffer
	writeTable(&b, s)
	for _, want := range []string{
		"compare.pid           caught    4",
		"./upgrade: TestCompare/new_pid, ./e2e: TestApply/x (+1 more)",
		"none of: ./upgrade; ./e2e -run ^TestApply$",
		"the original text is not there",
		"not a verdict yet: compare.keyspace: no rule",
		"3 mutations: 1 caught, 1 uncaught, 1 stale in 1m30s (30s of it waiting for the e2e lock)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	b.Reset()
	writeMarkdown(&b, s)
	for _, want := range []string{"| `compare.pid` | pid \\| changed | caught |", "| `compare.keyspace` | no rule | absent |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}

	b.Reset()
	if err := writeJSON(&b, s); err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Results) != 3 || back.Results[0].CaughtBy[0] != "./upgrade: TestCompare/new_pid" {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-only", "nope.nope"}, {"extra"}, {"-timeout", "soon"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-list", "-only", "compare"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "compare.pid") || strings.Contains(out.String(), "STALE") {
		t.Errorf("-list: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// TestLockFile: the e2e lock is the flock(1) one: held elsewhere, it is
// waited for (until the context ends); free, it is taken.
func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e2e.lock")
	other, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := lockFile(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock held elsewhere: err = %v, want the context's", err)
	}
	syscall.Flock(int(other.Fd()), syscall.LOCK_UN)
	release, _, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("lockFile did not take the lock: %v", err)
	}
	release()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Errorf("release left the lock held: %v", err)
	}
}
