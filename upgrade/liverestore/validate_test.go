package liverestore

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/internal/testbuild"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// fakeDockerd24 answers like dockerd 24: --validate refuses files that
// contain "refuse-me".
func fakeDockerd24(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dockerd")
	script := "#!/bin/sh\n[ \"$1\" = --validate ] || exit 3\nif grep -q refuse-me \"$3\"; then echo \"unable to configure the Docker daemon with file $3: refused\" >&2; exit 1; fi\necho 'configuration OK' >&2\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateCandidate(t *testing.T) {
	exe := func(argv ...string) []systemd.Exec {
		if len(argv) == 0 {
			return nil
		}
		return []systemd.Exec{{Path: argv[0], Argv: argv}}
	}
	dockerd := []string{"/usr/sbin/dockerd", "--config-file", "/etc/docker/daemon.json"}
	liveswapd := []string{testbuild.Liveswapd(t), "--config-file", "/etc/liveswap/daemon.json"}
	dockerd24 := []string{fakeDockerd24(t), "--config-file", "/etc/docker/daemon.json"}
	tests := []struct {
		name       string
		kind       string
		file       string
		argv       []string
		version    string
		swarm      bool
		wantStarts bool
		wantID     string // a finding that must be there
		wantRules  string
	}{
		{"dockerd ok", plan.Docker, `{"storage-driver": "vfs", "live-restore": true}`, dockerd, "20.10.24+dfsg1", false, true, "", "dockerd 20.10 rules"},
		{"dockerd unknown key", plan.Docker, "{\n  \"live-restore\": true,\n  \"storage-drvier\": \"vfs\"\n}", dockerd, "20.10.24+dfsg1", false, false, "daemon-json.unknown-key", ""},
		{"dockerd wrong type", plan.Docker, `{"live-restore": true, "debug": "yes"}`, dockerd, "20.10.24+dfsg1", false, false, "daemon-json.type", ""},
		{"dockerd flag conflict", plan.Docker, `{"live-restore": true}`, append(dockerd, "--live-restore"), "20.10.24+dfsg1", false, false, "daemon-json.flag-conflict", ""},
		{"dockerd swarm", plan.Docker, `{"live-restore": true}`, dockerd, "20.10.24+dfsg1", true, false, "daemon-json.swarm", ""},
		{"dockerd odd version: oldest rules", plan.Docker, `{"live-restore": true}`, dockerd, "dev", false, true, "", "dockerd 20.10 rules"},
		{"dockerd 24 accepts", plan.Docker, `{"live-restore": true}`, dockerd24, "24.0.7", false, true, "", "dockerd 24.0 rules"},
		{"dockerd 24 --validate refuses", plan.Docker, `{"live-restore": true, "labels": ["refuse-me=1"]}`, dockerd24, "24.0.7", false, false, "daemon-json.dockerd-validate", ""},
		{"liveswapd ok", plan.Liveswapd, `{"live-restore": true, "hosts": ["unix:///tmp/x.sock"]}`, liveswapd, "1.0.0", false, true, "", "liveswapd rules, by " + liveswapd[0] + " --validate"},
		{"liveswapd unknown key", plan.Liveswapd, "{\n  \"live-restore\": true,\n  \"bogus\": 1\n}", liveswapd, "1.0.0", false, false, "daemon-json.valid", ""},
		{"liveswapd flag conflict", plan.Liveswapd, `{"live-restore": true}`, append(liveswapd, "--live-restore"), "1.0.0", false, false, "daemon-json.flag-conflict", ""},
		{"liveswapd without ExecStart", plan.Liveswapd, `{"live-restore": true}`, nil, "1.0.0", false, false, "daemon-json.valid", ""},
		{"liveswapd bad ExecStart flag", plan.Liveswapd, `{"live-restore": true}`, append(liveswapd, "--no-such-flag"), "1.0.0", false, false, "daemon-json.exec-start", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ValidateCandidate(context.Background(), plan.MustKind(tt.kind), "/etc/docker/daemon.json", []byte(tt.file), exe(tt.argv...), tt.version, tt.swarm)
			if v.Starts != tt.wantStarts {
				t.Fatalf("starts = %v, want %v; findings %+v", v.Starts, tt.wantStarts, v.Findings)
			}
			if tt.wantRules != "" && v.Rules != tt.wantRules {
				t.Errorf("rules %q, want %q", v.Rules, tt.wantRules)
			}
			if tt.wantID == "" {
				return
			}
			for _, f := range v.Findings {
				if f.ID == tt.wantID && f.Message != "" && f.Remedy != "" {
					return
				}
			}
			t.Errorf("no %s finding with a message and a remedy in %+v", tt.wantID, v.Findings)
		})
	}
}

func TestValidateCandidateNamesLine(t *testing.T) {
	const path = "/etc/docker/daemon.json"
	data := []byte("{\n  \"live-restore\": true,\n  \"storage-drvier\": \"vfs\"\n}")
	tests := []struct {
		name, kind, binary, id, where, remedy string
	}{
		{"dockerd rules", plan.Docker, "/usr/sbin/dockerd", "daemon-json.unknown-key", path + ":3:3", "storage-driver"},
		{"liveswapd --validate", plan.Liveswapd, testbuild.Liveswapd(t), "daemon-json.valid", path + ":3", "fix " + path},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ValidateCandidate(context.Background(), plan.MustKind(tt.kind), path, data, []systemd.Exec{{Path: tt.binary, Argv: []string{tt.binary}}}, "20.10.24", false)
			for _, f := range v.Findings {
				if f.ID == tt.id {
					if f.Location(path) != tt.where || !strings.Contains(f.Remedy, tt.remedy) || !strings.Contains(f.Message, path) && tt.kind == plan.Liveswapd {
						t.Errorf("finding %+v: want it at %s, a remedy naming %q and the file in the message", f, tt.where, tt.remedy)
					}
					return
				}
			}
			t.Fatalf("no %s finding: %+v", tt.id, v.Findings)
		})
	}
}

// TestResultJSONFields pins the JSON field names scripts read. Every field
// is set, nested ones included, so those omitted when empty are pinned too.
func TestResultJSONFields(t *testing.T) {
	full := &Result{Result: upgrade.Enabled, Target: "docker", Unit: "docker.service", DaemonConfig: "/etc/docker/daemon.json",
		DaemonVersion: "20.10.24", LiveRestoreBefore: false, LiveRestoreAfter: true, FileChanged: true,
		Backup: "b", Diff: "d", Rules: "r", Error: "e", Remedy: "m",
		Findings:      []daemonjson.Finding{{ID: "daemon-json.unknown-key", Severity: daemonjson.Fail, Key: "k", Line: 1, Col: 2, Message: "m", Remedy: "r", Strict: true}},
		Steps:         []upgrade.PhaseReport{{Name: "reload", Status: upgrade.PhaseDone, DurationMS: 1, Error: "e", Detail: "d"}},
		Containers:    []upgrade.Change{{Name: "web", ID: "i", PidBefore: 1, PidAfter: 1, StartedAtBefore: "a", StartedAtAfter: "a", Interrupted: true, Reason: "r"}},
		Probes:        []upgrade.ProbeReport{{Name: "web", Kind: "http", Target: "t", Sent: 1, Failed: 1, MaxGapMS: 1, P99MS: 1}},
		Audit:         []AuditItem{{ID: "unit.kill-mode", Status: "fail", Message: "m", Remedy: "r", Details: []string{"d"}}},
		BeforeUpgrade: []string{"s"},
	}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	keys := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	got := map[string][]string{"result": keys(m)}
	for _, k := range []string{"findings", "steps", "containers", "probes", "audit"} {
		got[k] = keys(m[k].([]any)[0])
	}
	want := map[string][]string{
		"result": {"audit", "backup", "before_upgrade", "containers", "daemon_config", "daemon_version", "diff", "error",
			"file_changed", "findings", "live_restore_after", "live_restore_before", "probes", "remedy", "result", "rules", "steps", "target", "unit"},
		"findings":   {"col", "id", "key", "line", "message", "remedy", "severity", "strict"},
		"steps":      {"detail", "duration_ms", "error", "name", "status"},
		"containers": {"id", "interrupted", "name", "pid_after", "pid_before", "reason", "started_at_after", "started_at_before"},
		"probes":     {"failed", "kind", "max_gap_ms", "name", "p99_ms", "sent", "target"},
		"audit":      {"details", "id", "message", "remedy", "status"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields\n got %v\nwant %v", got, want)
	}
}

func TestAuditChecks(t *testing.T) {
	var ids []string
	for _, c := range AuditChecks() {
		ids = append(ids, c.ID)
		if strings.HasPrefix(c.ID, "binary.") || c.ID == "version.policy" || c.ID == "engine.live-restore" || strings.HasPrefix(c.ID, "daemon-json.") {
			t.Errorf("audit runs %s, which is about the new binary or what this command fixes", c.ID)
		}
	}
	for _, want := range []string{"unit.loaded", "unit.kill-mode", "unit.exec-reload", "engine.reachable"} {
		found := false
		for _, id := range ids {
			found = found || id == want
		}
		if !found {
			t.Errorf("audit lacks %s (has %v)", want, ids)
		}
	}
}
