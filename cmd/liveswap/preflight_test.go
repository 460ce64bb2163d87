package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan/discover"
)

// parsePreflight runs the command's flag handling and returns the options
// it would run with, or the error it stopped with.
func parsePreflight(t *testing.T, args ...string) (*preflightOptions, error) {
	t.Helper()
	var got *preflightOptions
	cmd := newPreflightCmd(func(o *preflightOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return got, err
}

func TestPreflightFlags(t *testing.T) {
	sha := strings.Repeat("a", 64)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o *preflightOptions)
		wantErr string
	}{
		{
			name: "flags",
			args: []string{"--target", "docker", "--unit", "docker.service", "--systemd", "user", "--endpoint", "unix:///run/d.sock",
				"--daemon-config", "/etc/d.json", "--new-binary", "/tmp/dockerd", "--sha256", sha, "--allow-minor", "--allow-downgrade",
				"--insecure-skip-checksum", "--skip", "unit.type", "--skip", "host.lock,host.journal", "--strict", "-o", "junit", "--downtime", "3s"},
			check: func(t *testing.T, o *preflightOptions) {
				tg := o.Target
				if tg.Target != "docker" || tg.Unit != "docker.service" || tg.Systemd != "user" || tg.Endpoint != "unix:///run/d.sock" ||
					tg.DaemonConfig != "/etc/d.json" || strings.Join(tg.NewBinary, " ") != "/tmp/dockerd" || strings.Join(tg.SHA256, " ") != sha || !tg.AllowMinor ||
					!tg.AllowDowngrade || !tg.InsecureSkipChecksum {
					t.Errorf("target flags = %+v", tg)
				}
				if strings.Join(o.Skip, " ") != "unit.type host.lock host.journal" || !o.Strict || o.Output != "junit" || o.Downtime.String() != "3s" {
					t.Errorf("options = %+v", o)
				}
			},
		},
		{
			name: "environment fills what flags leave out",
			args: []string{"--unit", "flag.service"},
			env:  map[string]string{"LIVESWAP_NEW_BINARY": "/env/dockerd", "LIVESWAP_UNIT": "env.service", "LIVESWAP_SKIP": "unit.type,host", "LIVESWAP_STRICT": "true"},
			check: func(t *testing.T, o *preflightOptions) {
				if strings.Join(o.Target.NewBinary, " ") != "/env/dockerd" || o.Target.Unit != "flag.service" || strings.Join(o.Skip, " ") != "unit.type host" || !o.Strict {
					t.Errorf("options = %+v", o)
				}
			},
		},
		{
			name: "config file",
			env:  map[string]string{"LIVESWAP_CONFIG": "testdata/preflight/config.yaml", "LIVESWAP_UNIT": "env.service"},
			check: func(t *testing.T, o *preflightOptions) {
				if strings.Join(o.Target.NewBinary, " ") != "/from/config/dockerd" || o.Target.Unit != "env.service" || strings.Join(o.Skip, " ") != "host.lock host.journal" {
					t.Errorf("options = %+v", o)
				}
			},
		},
		{name: "missing config file", env: map[string]string{"LIVESWAP_CONFIG": "testdata/preflight/nope.yaml"}, wantErr: "LIVESWAP_CONFIG"},
		{name: "bad env value", env: map[string]string{"LIVESWAP_STRICT": "maybe"}, wantErr: "LIVESWAP_STRICT"},
		{name: "plan excludes target flags", args: []string{"--plan", "p.yaml", "--unit", "x", "--new-binary", "/x"}, wantErr: "drop --unit, --new-binary"},
		{name: "plan with policy flags", args: []string{"--plan", "p.yaml", "--skip", "host", "--strict"}},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "unknown flag"},
		{name: "arguments", args: []string{"docker"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"LIVESWAP_CONFIG", "LIVESWAP_NEW_BINARY", "LIVESWAP_UNIT", "LIVESWAP_SKIP", "LIVESWAP_STRICT"} {
				unsetenv(t, k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o, err := parsePreflight(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if code := exitCode(err); code != 2 {
					t.Errorf("exit %d, want 2", code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

// runPreflight runs preflightRun against a target that does not exist:
// systemd unreachable, no engine socket, no files. Every problem must be a
// check result (exit 1), never a crash or a usage error.
func runPreflight(t *testing.T, mutate func(o *preflightOptions)) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o := &preflightOptions{
		Out: &out, Err: &bytes.Buffer{}, Output: "table", StateDir: t.TempDir(),
		connect: func(context.Context, systemd.Scope) (*systemd.Manager, error) {
			return nil, errors.New("no systemd here")
		},
	}
	o.Target.Unit = "lsdocker-test.service"
	o.Target.Endpoint = "unix:///nonexistent/liveswap-test/docker.sock"
	o.Target.DaemonConfig = "/nonexistent/liveswap-test/daemon.json"
	if mutate != nil {
		mutate(o)
	}
	err := preflightRun(context.Background(), o)
	return out.String(), err
}

func TestPreflightRun(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(o *preflightOptions)
		wantCode int
		want     []string
	}{
		{"table", nil, 1, []string{"[fail]  unit.loaded", "no systemd here", "[fail]  engine.reachable", "remedy:", "FAILED"}},
		{"skip all passes", func(o *preflightOptions) { o.Skip = []string{"all"} }, 0, []string{"[skip]  unit.loaded", "skipped (--skip all)", "passed"}},
		{"unknown skip", func(o *preflightOptions) { o.Skip = []string{"unit.nope"} }, 2, nil},
		{"bad output", func(o *preflightOptions) { o.Output = "yaml" }, 2, nil},
		{"bad sha", func(o *preflightOptions) { o.Target.NewBinary, o.Target.SHA256 = []string{"/x"}, []string{"12"} }, 2, nil},
		{"plan", func(o *preflightOptions) { o.PlanFile = "testdata/preflight/plan.yaml"; o.Target = discover.Flags{} }, 1,
			[]string{"lsdocker-test.service", "[skip]  host.package-automation", "[fail]  binary.exists"}},
		{"plan with policy flags", func(o *preflightOptions) {
			o.PlanFile = "testdata/preflight/plan.yaml"
			o.Target = discover.Flags{AllowMinor: true}
			o.Output = "json"
		}, 1, []string{`"schema"`}},
		{"plan with unknown field", func(o *preflightOptions) { o.PlanFile = "testdata/preflight/unknown-field.yaml" }, 2, nil},
		{"missing plan", func(o *preflightOptions) { o.PlanFile = "testdata/preflight/absent.yaml" }, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runPreflight(t, tt.mutate)
			if code := exitCode(err); code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPreflightOutputs(t *testing.T) {
	out, err := runPreflight(t, func(o *preflightOptions) { o.Output = "json" })
	if exitCode(err) != 1 {
		t.Fatalf("exit %d", exitCode(err))
	}
	var rep checks.JSONReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Schema != checks.SchemaVersion || rep.Passed || rep.Target.Unit != "lsdocker-test.service" || len(rep.Checks) != len(checks.PreflightChecks()) {
		t.Errorf("report = %+v", rep)
	}

	out, err = runPreflight(t, func(o *preflightOptions) { o.Output = "junit" })
	if exitCode(err) != 1 {
		t.Fatalf("exit %d", exitCode(err))
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("junit: %v\n%s", err, out)
	}
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != len(checks.PreflightChecks()) {
		t.Fatalf("junit cases: %+v", doc)
	}
	if c := doc.Suites[0].Cases[0]; c.Name != "unit.loaded" || c.Failure == nil {
		t.Errorf("first case = %+v", c)
	}
}

func TestPreflightHelp(t *testing.T) {
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"preflight", "--help"})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"EXIT STATUS", "Examples:", "unit.kill-mode", "--new-binary", "--skip", "--output", "docs/preflight.md"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("help lacks %q", w)
		}
	}
}

// unsetenv removes k for the test; t.Setenv restores it afterwards.
func unsetenv(t *testing.T, k string) {
	t.Setenv(k, "")
	os.Unsetenv(k)
}
