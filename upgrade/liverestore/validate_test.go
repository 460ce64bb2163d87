package liverestore

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/plan"
)

func TestValidateCandidate(t *testing.T) {
	dockerd := []string{"/usr/sbin/dockerd", "--config-file", "/etc/docker/daemon.json"}
	liveswapd := []string{"/usr/local/bin/liveswapd", "--config-file", "/etc/liveswap/daemon.json"}
	tests := []struct {
		name       string
		kind       string
		file       string
		argv       []string
		swarm      bool
		wantStarts bool
		wantID     string // a finding that must be there
	}{
		{"dockerd ok", plan.Docker, `{"storage-driver": "vfs", "live-restore": true}`, dockerd, false, true, ""},
		{"dockerd unknown key", plan.Docker, "{\n  \"live-restore\": true,\n  \"storage-drvier\": \"vfs\"\n}", dockerd, false, false, "daemon-json.unknown-key"},
		{"dockerd wrong type", plan.Docker, `{"live-restore": true, "debug": "yes"}`, dockerd, false, false, "daemon-json.type"},
		{"dockerd flag conflict", plan.Docker, `{"live-restore": true}`, append(dockerd, "--live-restore"), false, false, "daemon-json.flag-conflict"},
		{"dockerd swarm", plan.Docker, `{"live-restore": true}`, dockerd, true, false, "daemon-json.swarm"},
		{"liveswapd ok", plan.Liveswapd, `{"live-restore": true, "hosts": ["unix:///tmp/x.sock"]}`, liveswapd, false, true, ""},
		{"liveswapd unknown key", plan.Liveswapd, "{\n  \"live-restore\": true,\n  \"bogus\": 1\n}", liveswapd, false, false, "daemon-json.valid"},
		{"liveswapd flag conflict", plan.Liveswapd, `{"live-restore": true}`, append(liveswapd, "--live-restore"), false, false, "daemon-json.flag-conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ValidateCandidate(tt.kind, "/etc/docker/daemon.json", []byte(tt.file), tt.argv, "20.10.24+dfsg1", tt.swarm)
			if v.Starts != tt.wantStarts {
				t.Fatalf("starts = %v, want %v; findings %+v", v.Starts, tt.wantStarts, v.Findings)
			}
			if tt.wantID == "" {
				return
			}
			for _, f := range v.Findings {
				if f.ID == tt.wantID && f.Message != "" {
					return
				}
			}
			t.Errorf("no %s finding in %+v", tt.wantID, v.Findings)
		})
	}
}

func TestValidateCandidateNamesLine(t *testing.T) {
	v := ValidateCandidate(plan.Docker, "/etc/docker/daemon.json", []byte("{\n  \"live-restore\": true,\n  \"storage-drvier\": \"vfs\"\n}"), nil, "20.10.24", false)
	for _, f := range v.Findings {
		if f.ID == "daemon-json.unknown-key" {
			if f.Location("/etc/docker/daemon.json") != "/etc/docker/daemon.json:3:3" || !strings.Contains(f.Remedy, "storage-driver") {
				t.Errorf("finding %+v: want line 3 col 3 and a did-you-mean", f)
			}
			return
		}
	}
	t.Fatalf("no unknown-key finding: %+v", v.Findings)
}

// TestResultJSONFields pins the JSON field names scripts read.
func TestResultJSONFields(t *testing.T) {
	b, err := json.Marshal(&Result{Backup: "b", Diff: "d", Rules: "r", Error: "e", Remedy: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{"audit", "backup", "before_upgrade", "containers", "daemon_config", "daemon_version", "diff", "error",
		"file_changed", "findings", "live_restore_after", "live_restore_before", "probes", "remedy", "result", "rules", "steps", "target", "unit"}
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
