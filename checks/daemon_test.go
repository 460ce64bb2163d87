package checks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/internal/testbuild"
	"github.com/liveswap/liveswap/plan"
)

// TestDaemonJSONByBinary: for liveswapd the binary's `--validate` is the
// verdict of the daemon-json checks, with the unit's flags.
func TestDaemonJSONByBinary(t *testing.T) {
	bin := testbuild.Liveswapd(t)
	// A liveswapd that answers --version but whose --validate never ends:
	// no binary judges the file, so daemon-json.valid cannot pass it.
	hangs := filepath.Join(t.TempDir(), "liveswapd")
	script := "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'liveswapd version 1.0.0'; exit 0; }\nexec sleep 60\n"
	if err := os.WriteFile(hangs, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { daemonjson.BinaryTimeout = d }(daemonjson.BinaryTimeout)
	daemonjson.BinaryTimeout = 500 * time.Millisecond
	type want struct {
		status Status
		substr string
	}
	tests := []struct {
		name   string
		binary string
		file   string
		flags  []string
		want   map[string]want
	}{
		{"valid", bin, `{"live-restore": true}`, nil, map[string]want{
			"daemon-json.valid":            {OK, "liveswapd rules, by " + bin + " --validate"},
			"daemon-json.flag-conflict":    {OK, "no setting"},
			"daemon-json.live-restore":     {OK, "live-restore is on"},
			"daemon-json.dockerd-validate": {Skip, "not judged by Docker's rules"},
		}},
		{"live-restore off", bin, `{"live-restore": false}`, nil, map[string]want{
			"daemon-json.valid":        {OK, "would start"},
			"daemon-json.live-restore": {Fail, "live-restore is off"},
		}},
		{"unknown key", bin, "{\n  \"live-restore\": true,\n  \"bogus\": 1\n}", nil, map[string]want{
			"daemon-json.valid":        {Fail, `daemon.json:3: unable to configure liveswapd with file `},
			"daemon-json.live-restore": {Skip, "daemon-json.valid failed"},
		}},
		{"flag conflict", bin, "{\n  \"live-restore\": true\n}", []string{"--live-restore"}, map[string]want{
			"daemon-json.flag-conflict": {Fail, "both as a flag and in the configuration file"},
		}},
		{"--validate never ends", hangs, `{"live-restore": true}`, nil, map[string]want{
			"daemon-json.valid":         {Fail, "timed out"},
			"daemon-json.flag-conflict": {Skip, "daemon-json.valid failed"},
			"daemon-json.live-restore":  {Skip, "daemon-json.valid failed"},
		}},
		{"binary missing", "/nonexistent/liveswapd", `{"live-restore": true}`, nil, map[string]want{
			"daemon-json.valid":         {Fail, "/nonexistent/liveswapd"},
			"daemon-json.flag-conflict": {Skip, "daemon-json.valid failed"},
			"daemon-json.live-restore":  {Skip, "daemon-json.valid failed"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "daemon.json")
			if err := os.WriteFile(cfg, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			argv := append([]string{tt.binary, "--config-file", cfg}, tt.flags...)
			u := &systemd.Unit{Name: "liveswapd.service", LoadState: "loaded", ExecStart: []systemd.Exec{{Path: tt.binary, Argv: argv}}}
			p := &plan.Plan{Target: plan.Target{Kind: plan.Liveswapd, Unit: u.Name, Systemd: "system", DaemonConfig: cfg},
				Binaries: []plan.Binary{{Path: tt.binary}}}
			rep := Run(context.Background(), seeded(p, u), daemonJSONChecks(), nil)
			for id, w := range tt.want {
				r, _ := rep.Result(id)
				if r.Status != w.status || !strings.Contains(r.Message, w.substr) {
					t.Errorf("%s = %s %q, want %s with %q", id, r.Status, r.Message, w.status, w.substr)
				}
				if r.Status == Fail && r.Remedy == "" {
					t.Errorf("%s: no remedy", id)
				}
			}
		})
	}
}

// TestDockerdValidateWithoutNewBinary: with no new binary, the dockerd the
// unit runs is asked; its refusal fails the check, the rules stay the
// verdict of daemon-json.valid.
func TestDockerdValidateWithoutNewBinary(t *testing.T) {
	dir := t.TempDir()
	dockerd := filepath.Join(dir, "dockerd")
	script := "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'Docker version 24.0.7, build afdd53b'; exit 0; }\n" +
		"grep -q refuse-me \"$3\" && { echo \"unable to configure the Docker daemon with file $3: refused\" >&2; exit 1; }\necho 'configuration OK' >&2\n"
	if err := os.WriteFile(dockerd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file   string
		valid  Status // daemon-json.valid: the rules
		status Status
		substr string
	}{
		{`{"live-restore": true}`, OK, OK, dockerd + " --validate accepts the file (weaker than a start"},
		{`{"live-restore": true, "labels": ["refuse-me=1"]}`, OK, Fail, "daemon.json: refused"},
		// --validate accepts what only a start refuses: the rules' failure stands.
		{`{"live-restore": true, "registry-mirrors": ["mirror.gcr.io"]}`, Fail, OK, "weaker than a start"},
	}
	for _, tt := range tests {
		cfg := filepath.Join(t.TempDir(), "daemon.json")
		os.WriteFile(cfg, []byte(tt.file), 0o644)
		u := &systemd.Unit{Name: "docker.service", LoadState: "loaded", ExecStart: []systemd.Exec{{Path: dockerd, Argv: []string{dockerd}}}}
		p := &plan.Plan{Target: plan.Target{Kind: plan.Docker, Unit: u.Name, Systemd: "system", DaemonConfig: cfg, Endpoint: "unix://" + dir + "/none.sock"},
			Binaries: []plan.Binary{{Path: dockerd}}}
		rep := Run(context.Background(), seeded(p, u), daemonJSONChecks(), nil)
		if r, _ := rep.Result("daemon-json.valid"); r.Status != tt.valid {
			t.Errorf("daemon-json.valid = %+v, want %s by the rules", r, tt.valid)
		}
		if tt.valid == Fail && !rep.Failed() {
			t.Errorf("--validate's acceptance turned the rules' refusal into a pass")
		}
		if r, _ := rep.Result("daemon-json.dockerd-validate"); r.Status != tt.status || !strings.Contains(r.Message, tt.substr) {
			t.Errorf("daemon-json.dockerd-validate = %s %q, want %s with %q", r.Status, r.Message, tt.status, tt.substr)
		}
	}
}
