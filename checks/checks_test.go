package checks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

func testList(ran *[]string) []Check {
	mark := func(id string, r Result) Check {
		return Check{ID: id, Description: id + " works", Func: func(context.Context, *Env) Result {
			*ran = append(*ran, id)
			return r
		}}
	}
	return []Check{
		mark("unit.loaded", Result{Status: OK, Message: "loaded"}),
		mark("unit.kill-mode", Result{Status: Warn, Message: "KillMode=none"}),
		mark("binary.sha256", Result{Status: Fail, Message: "mismatch", Remedy: "download again"}),
		mark("host.lock", Result{}),
	}
}

func TestRunSkip(t *testing.T) {
	tests := []struct {
		name       string
		skip       []string
		strict     bool
		wantRan    string
		wantStatus string
		failed     bool
	}{
		{"nothing skipped", nil, false, "unit.loaded unit.kill-mode binary.sha256 host.lock", "ok warn fail ok", true},
		{"skip one", []string{"binary.sha256"}, false, "unit.loaded unit.kill-mode host.lock", "ok warn skip ok", false},
		{"skip group", []string{"unit"}, false, "binary.sha256 host.lock", "skip skip fail ok", true},
		{"skip group star", []string{"unit.*", "binary.sha256"}, false, "host.lock", "skip skip skip ok", false},
		{"skip all", []string{"all"}, false, "", "skip skip skip skip", false},
		{"strict makes warnings fail", []string{"binary.sha256"}, true, "unit.loaded unit.kill-mode host.lock", "ok warn skip ok", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			env := NewEnv(&plan.Plan{}, Options{Strict: tt.strict})
			rep := Run(context.Background(), env, testList(&ran), tt.skip)
			if got := strings.Join(ran, " "); got != tt.wantRan {
				t.Errorf("ran %q, want %q", got, tt.wantRan)
			}
			var statuses []string
			for _, r := range rep.Results {
				statuses = append(statuses, string(r.Status))
				if r.Status == Skip && !strings.Contains(r.Message, "--skip") {
					t.Errorf("%s: skipped without saying why: %q", r.ID, r.Message)
				}
			}
			if got := strings.Join(statuses, " "); got != tt.wantStatus {
				t.Errorf("statuses %q, want %q", got, tt.wantStatus)
			}
			if rep.Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v", rep.Failed(), tt.failed)
			}
		})
	}
}

func TestValidateSkip(t *testing.T) {
	list := PreflightChecks()
	for _, ok := range [][]string{nil, {"all"}, {"unit"}, {"unit.*"}, {"binary.sha256", "host.lock"}, {" host.lock "}} {
		if err := ValidateSkip(list, ok); err != nil {
			t.Errorf("ValidateSkip(%q) = %v", ok, err)
		}
	}
	err := ValidateSkip(list, []string{"unit.killmode", "host.lock"})
	if err == nil || !strings.Contains(err.Error(), "--skip unit.killmode: no such check") || !strings.Contains(err.Error(), "unit.kill-mode") {
		t.Errorf("err = %v", err)
	}
}

// TestPreflightIDs pins the check IDs: they are a public interface
// (--skip, JSON, JUnit, plans' skipChecks) and must not change silently.
func TestPreflightIDs(t *testing.T) {
	want := []string{
		"unit.loaded", "unit.active", "unit.kill-mode", "unit.type", "unit.exec-reload", "unit.restart", "unit.timeout-stop", "unit.drop-ins",
		"engine.reachable", "engine.live-restore",
		"binary.exists", "binary.regular", "binary.elf", "binary.executable", "binary.owner", "binary.sha256", "binary.version", "binary.backup-space",
		"version.policy",
		"packages.files", "packages.previous", "packages.units", "packages.dpkg",
		"daemon-json.valid", "daemon-json.host", "daemon-json.flag-conflict", "daemon-json.live-restore", "daemon-json.dockerd-validate",
		"workload.health", "workload.restart-policy", "workload.healthcheck", "workload.log-rate",
		"host.self-in-container", "host.package-automation", "host.lock", "host.journal",
	}
	var got []string
	seen := map[string]bool{}
	for _, c := range PreflightChecks() {
		got = append(got, c.ID)
		if seen[c.ID] {
			t.Errorf("duplicate ID %s", c.ID)
		}
		seen[c.ID] = true
		if c.Description == "" || c.Func == nil {
			t.Errorf("%s: missing description or function", c.ID)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("IDs changed:\n got %v\nwant %v", got, want)
	}
}

func TestCheckPanicIsFailure(t *testing.T) {
	c := Check{ID: "x.y", Func: func(context.Context, *Env) Result { panic("boom") }}
	r := c.Run(context.Background(), NewEnv(&plan.Plan{}, Options{}))
	if r.Status != Fail || !strings.Contains(r.Message, "boom") || !strings.Contains(r.Remedy, "--skip x.y") {
		t.Errorf("= %+v", r)
	}
}

// TestBlocked: a check whose dependency failed points at the failed check;
// when that check was skipped, it reports the failure itself.
func TestBlocked(t *testing.T) {
	connectErr := errors.New("system bus not found")
	p := &plan.Plan{Target: plan.Target{Kind: plan.Docker, Unit: "docker.service", Systemd: "system"}}
	opts := Options{Connect: func(context.Context, systemd.Scope) (*systemd.Manager, error) { return nil, connectErr }}
	list := []Check{}
	for _, c := range unitChecks() {
		if c.ID == "unit.loaded" || c.ID == "unit.kill-mode" {
			list = append(list, c)
		}
	}
	rep := Run(context.Background(), NewEnv(p, opts), list, nil)
	if r, _ := rep.Result("unit.loaded"); r.Status != Fail || !strings.Contains(r.Message, "system bus not found") {
		t.Errorf("unit.loaded = %+v", r)
	}
	if r, _ := rep.Result("unit.kill-mode"); r.Status != Skip || !strings.Contains(r.Message, "unit.loaded failed") {
		t.Errorf("unit.kill-mode = %+v", r)
	}
	rep = Run(context.Background(), NewEnv(p, opts), list, []string{"unit.loaded"})
	if r, _ := rep.Result("unit.kill-mode"); r.Status != Fail || !strings.Contains(r.Message, "system bus not found") {
		t.Errorf("unit.kill-mode with unit.loaded skipped = %+v", r)
	}
}

// seeded returns an Env whose unit is already read.
func seeded(p *plan.Plan, u *systemd.Unit) *Env {
	env := NewEnv(p, Options{})
	env.unit = memo[*systemd.Unit]{done: true, v: u}
	return env
}

func TestUnitChecks(t *testing.T) {
	base := systemd.Unit{Name: "docker.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
		FragmentPath: "/lib/systemd/system/docker.service", Type: "notify", KillMode: "process", Restart: "always",
		TimeoutStopSec: 30, MainPID: 42, ExecReload: []systemd.Exec{{Path: "/bin/kill", Argv: []string{"/bin/kill", "-s", "HUP", "$MAINPID"}}}}
	tests := []struct {
		id     string
		kind   string
		change func(u *systemd.Unit)
		want   Status
		substr string
	}{
		{"unit.loaded", plan.Docker, nil, OK, "loaded from /lib/systemd/system/docker.service"},
		{"unit.loaded", plan.Docker, func(u *systemd.Unit) { u.LoadState = "not-found" }, Fail, "not-found"},
		{"unit.active", plan.Docker, nil, OK, "main PID 42"},
		{"unit.active", plan.Docker, func(u *systemd.Unit) { u.ActiveState, u.SubState = "failed", "failed" }, Fail, "is failed"},
		{"unit.kill-mode", plan.Docker, nil, OK, "KillMode=process"},
		{"unit.kill-mode", plan.Docker, func(u *systemd.Unit) { u.KillMode = "control-group" }, Fail, "KillMode=control-group"},
		{"unit.kill-mode", plan.Docker, func(u *systemd.Unit) { u.KillMode = "mixed" }, Fail, "KillMode=mixed"},
		{"unit.kill-mode", plan.Docker, func(u *systemd.Unit) { u.KillMode = "none" }, Warn, "KillMode=none"},
		{"unit.type", plan.Docker, nil, OK, "Type=notify"},
		{"unit.type", plan.Docker, func(u *systemd.Unit) { u.Type = "simple" }, Warn, "Type=simple"},
		{"unit.exec-reload", plan.Docker, nil, OK, "HUP"},
		{"unit.exec-reload", plan.Docker, func(u *systemd.Unit) { u.ExecReload = nil }, Warn, "no ExecReload"},
		{"unit.restart", plan.Docker, nil, OK, "Restart=always"},
		{"unit.restart", plan.Docker, func(u *systemd.Unit) { u.Restart = "no" }, Warn, "Restart=no"},
		{"unit.timeout-stop", plan.Docker, nil, OK, "30s"},
		{"unit.timeout-stop", plan.Docker, func(u *systemd.Unit) { u.TimeoutStopSec = 3 }, Warn, "3s"},
		{"unit.timeout-stop", plan.Docker, func(u *systemd.Unit) { u.TimeoutStopSec = float64(^uint64(0)) / 1e6 }, Warn, "infinity"},
		{"unit.drop-ins", plan.Docker, nil, OK, "no drop-ins"},
	}
	byID := map[string]Check{}
	for _, c := range unitChecks() {
		byID[c.ID] = c
	}
	for _, tt := range tests {
		u := base
		if tt.change != nil {
			tt.change(&u)
		}
		p := &plan.Plan{Target: plan.Target{Kind: tt.kind, Unit: u.Name, Systemd: "system"}}
		r := byID[tt.id].Run(context.Background(), seeded(p, &u))
		if r.Status != tt.want || !strings.Contains(r.Message, tt.substr) {
			t.Errorf("%s: = %s %q, want %s with %q", tt.id, r.Status, r.Message, tt.want, tt.substr)
		}
		if (r.Status == Fail || r.Status == Warn) && r.Remedy == "" {
			t.Errorf("%s: no remedy", tt.id)
		}
	}
}

func TestKillModeRemedyNamesTheFile(t *testing.T) {
	u := &systemd.Unit{Name: "docker.service", LoadState: "loaded", FragmentPath: "/etc/systemd/system/docker.service", KillMode: "control-group"}
	p := &plan.Plan{Target: plan.Target{Kind: plan.Docker, Unit: u.Name, Systemd: "system"}}
	r := checkKillMode(context.Background(), seeded(p, u))
	if r.Status != Fail || !strings.Contains(r.Remedy, "KillMode=process") || !strings.Contains(r.Remedy, u.FragmentPath) {
		t.Errorf("= %+v", r)
	}
}

func TestDropIns(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "10-limits.conf")
	b := filepath.Join(dir, "20-kill.conf")
	os.WriteFile(a, []byte("[Service]\nLimitNOFILE=1024\n"), 0o644)
	os.WriteFile(b, []byte("[Service]\n# KillMode=process\nKillMode=control-group\nTimeoutStopSec = 5\n"), 0o644)
	u := &systemd.Unit{Name: "docker.service", LoadState: "loaded", FragmentPath: "/lib/systemd/system/docker.service",
		DropInPaths: []string{a, b}, KillMode: "control-group"}
	p := &plan.Plan{Target: plan.Target{Kind: plan.Docker, Unit: u.Name, Systemd: "system"}}
	r := checkDropIns(context.Background(), seeded(p, u))
	if r.Status != OK || !strings.Contains(r.Message, "2 drop-in(s)") || len(r.Details) != 2 ||
		r.Details[0] != a || r.Details[1] != b+": KillMode=control-group, TimeoutStopSec=5" {
		t.Errorf("= %+v", r)
	}
	// The remedy points at the drop-in that sets KillMode, not the unit file.
	if r := checkKillMode(context.Background(), seeded(p, u)); r.Status != Fail || !strings.Contains(r.Remedy, b) {
		t.Errorf("kill-mode = %+v", r)
	}
}

// TestRunInterrupted: checks not run because the run was interrupted fail,
// so an interrupted pre-flight never passes.
func TestRunInterrupted(t *testing.T) {
	ran := 0
	list := []Check{
		{ID: "a.one", Func: func(context.Context, *Env) Result { ran++; return Result{Status: OK} }},
		{ID: "a.two", Func: func(context.Context, *Env) Result { ran++; return Result{Status: OK} }},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := Run(ctx, NewEnv(&plan.Plan{}, Options{}), list, nil)
	if ran != 0 || !rep.Failed() {
		t.Fatalf("ran %d checks, failed %v; want none run and the report failed", ran, rep.Failed())
	}
	for _, c := range rep.Results {
		if c.Status != Fail || !strings.Contains(c.Message, "not run") {
			t.Errorf("%s: %s %q, want fail \"not run\"", c.ID, c.Status, c.Message)
		}
	}
}
