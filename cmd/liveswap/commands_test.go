package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/upgrade"
)

// TestHelpOfEveryCommand runs --help on each subcommand: it catches flag
// clashes (a panic) and commands without an EXIT STATUS section.
func TestHelpOfEveryCommand(t *testing.T) {
	root := newRootCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			t.Run(sub.CommandPath(), func(t *testing.T) {
				var out bytes.Buffer
				r := newRootCmd()
				r.SetOut(&out)
				r.SetErr(&out)
				r.SetArgs(append(strings.Fields(strings.TrimPrefix(sub.CommandPath(), "liveswap ")), "--help"))
				if err := r.Execute(); err != nil {
					t.Fatal(err)
				}
				if sub.Name() != "version" && !strings.Contains(out.String(), "EXIT STATUS") {
					t.Errorf("help lacks an EXIT STATUS section:\n%s", out.String())
				}
			})
			walk(sub)
		}
	}
	walk(root)
}

func TestApplyUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"apply"}, "needs a PLAN"},
		{[]string{"apply", "p.yaml", "--resume"}, "--resume takes the plan"},
		{[]string{"apply", "/nonexistent/plan.yaml", "--yes"}, "reading plan"},
		{[]string{"apply", "/nonexistent/plan.yaml", "--output", "xml"}, "--output"},
		{[]string{"verify"}, "--snapshot"},
	}
	for _, tt := range tests {
		r := newRootCmd()
		var out bytes.Buffer
		r.SetOut(&out)
		r.SetErr(&out)
		r.SetArgs(tt.args)
		err := r.Execute()
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: exit %d err %v, want 2 mentioning %q", tt.args, exitCode(err), err, tt.want)
		}
	}
}

func TestReportJUnitParses(t *testing.T) {
	rep := &upgrade.Report{Result: upgrade.RolledBack, Unit: "docker.service", Error: "ready: wrong version",
		Phases:     []upgrade.PhaseReport{{Name: "swap", Status: "done", DurationMS: 3}, {Name: "ready", Status: "failed", Error: "wrong version"}, {Name: "canary", Status: "skipped", Detail: "no image"}},
		Containers: []upgrade.Change{{Name: "web"}, {Name: "cache", Interrupted: true, Reason: "pid changed 1 -> 2"}},
		Probes:     []upgrade.ProbeReport{{Name: "web", Kind: "http", Sent: 10}},
	}
	var buf bytes.Buffer
	if err := writeReport(&buf, "junit", rep); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &s); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, buf.String())
	}
	// 3 phases + 2 containers + 1 probe + the result.
	if s.Tests != 7 || s.Failures != 3 || s.Skipped != 1 || len(s.Cases) != 7 {
		t.Fatalf("tests=%d failures=%d skipped=%d cases=%d\n%s", s.Tests, s.Failures, s.Skipped, len(s.Cases), buf.String())
	}
	if c := s.Cases[2]; c.Name != "canary" || c.Skipped == nil || c.Skipped.Message != "no image" {
		t.Errorf("skipped phase %+v: want its reason as the message", c)
	}
}

func TestReportTable(t *testing.T) {
	var buf bytes.Buffer
	writeReport(&buf, "table", &upgrade.Report{Result: upgrade.Upgraded, FromVersion: "1.0.0", ToVersion: "1.0.1",
		Probes: []upgrade.ProbeReport{{Name: "web", Kind: "http", Target: "http://127.0.0.1:1/", Sent: 50, MaxGapMS: 21.5}},
		Phases: []upgrade.PhaseReport{{Name: "canary", Status: "skipped", Detail: "no image: the plan names none"},
			{Name: "ready", Status: "failed", Error: "wrong version", Detail: "not shown"}}})
	for _, want := range []string{"result:   upgraded", "1.0.0 -> 1.0.1", "web", "21.5 ms",
		"canary  skipped  0 ms  no image: the plan names none", "ready   failed   0 ms  wrong version"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestFlagGivenTwice: a single-value flag given twice is an error;
// --new-binary and --sha256 repeat, in pairs.
func TestFlagGivenTwice(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"plan", "--new-binary", "/a/dockerd", "--sha256", strings.Repeat("a", 64), "--new-binary", "/b/containerd"}, "2 --new-binary and 1 --sha256: give them in pairs"},
		{[]string{"preflight", "--unit", "a", "--unit", "b"}, `"--unit" flag: given twice`},
		{[]string{"validate", "--docker-version", "20.10", "--docker-version", "24.0", "x"}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], " "), func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs(tt.args)
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestVerifyRefusesNonSnapshot: `verify --snapshot` of a file that is not a
// snapshot exits 2 naming the file, before asking any daemon: a `null`
// snapshot must not pass as "nothing was interrupted".
func TestVerifyRefusesNonSnapshot(t *testing.T) {
	for _, tt := range []struct{ name, content, want string }{
		{"null", "null\n", "null"},
		{"empty", "", "empty"},
		{"garbage", "garbage", "invalid character"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "before.json")
			os.WriteFile(file, []byte(tt.content), 0o644)
			r := newRootCmd()
			var out bytes.Buffer
			r.SetOut(&out)
			r.SetErr(&out)
			// An endpoint nobody listens on: the file must be refused first.
			r.SetArgs([]string{"verify", "--snapshot", file, "--endpoint", "unix:///nonexistent/liveswap-test.sock"})
			err := r.Execute()
			if exitCode(err) != 2 || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("exit %d err %v, want 2 naming %s and %q", exitCode(err), err, file, tt.want)
			}
		})
	}
}
