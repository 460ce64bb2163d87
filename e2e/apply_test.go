package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/liveswap/liveswap/e2e/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// liveswapCLI runs the real liveswap binary with the test manager's
// environment and returns its exit code, stdout and stderr.
func liveswapCLI(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// dockerdPlan is a same-version re-install of the test dockerd's binary
// (only 20.10.24 is installable here), probing every workload every 20 ms.
func dockerdPlan(d *testbed.Dockerd, current, newFile, sha string, ws ...*testbed.Workload) *plan.Plan {
	p := &plan.Plan{
		Target:   plan.Target{Kind: plan.Docker, Unit: d.Unit, Systemd: "user", Endpoint: d.Host, DaemonConfig: d.ConfigPath},
		Binaries: []plan.Binary{{Path: current, NewFile: newFile, SHA256: sha, ExpectedVersion: "20.10.24"}},
		Canary:   plan.Canary{Image: testbed.ImageName, Command: []string{"/bin/true"}},
		Policy:   plan.Policy{ReadyTimeout: plan.Duration(60 * time.Second)},
	}
	for _, w := range ws {
		p.Workloads = append(p.Workloads, plan.Workload{Container: w.Name, Probe: w.Kind, Address: w.Target(), Interval: plan.Duration(20 * time.Millisecond)})
	}
	p.Default()
	return p
}

func writePlan(t *testing.T, p *plan.Plan) string {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func decodeReport(t *testing.T, stdout string) *upgrade.Report {
	t.Helper()
	var r upgrade.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout)
	}
	return &r
}

// TestApplyDockerd upgrades a real dockerd under systemd with nginx and redis
// serving; its twin turns live restore off and forces the same upgrade, and
// the verifier must name both containers as interrupted.
func TestApplyDockerd(t *testing.T) {
	tests := []struct {
		name        string
		liveRestore bool
		args        []string
		wantCode    int
		wantResult  string
	}{
		{"live-restore on", true, nil, 0, upgrade.Upgraded},
		{"live-restore off forced", false, []string{"--force"}, 4, upgrade.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
			liveswap := testbed.Build(t, "liveswap", "e2e")
			current := testbed.CopyBinary(t, testbed.DockerdBin)
			newFile := testbed.CopyBinary(t, testbed.DockerdBin)
			sd := testbed.StartSystemd(t)
			d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: tt.liveRestore, Binary: current})
			img := testbed.BuildImage(t, d)
			web := testbed.RunNginx(t, d.Host, img)
			kv := testbed.RunRedis(t, d.Host, img)
			before := map[string]testbed.State{web.Name: testbed.Inspect(t, d.Host, web.Name), kv.Name: testbed.Inspect(t, d.Host, kv.Name)}
			runID := testbed.RedisRunID(t, kv)

			planFile := writePlan(t, dockerdPlan(d, current, newFile, testbed.SHA256(t, newFile), web, kv))
			state := t.TempDir()
			args := append([]string{"apply", planFile, "--yes", "--output", "json", "--state-dir", state}, tt.args...)
			code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), args...)
			t.Logf("liveswap apply exit %d\nstderr:\n%s\nreport:\n%s", code, stderr, stdout)
			r := decodeReport(t, stdout)
			if code != tt.wantCode || r.Result != tt.wantResult {
				t.Fatalf("exit %d result %q, want %d %q", code, r.Result, tt.wantCode, tt.wantResult)
			}
			if len(r.Containers) != 2 || len(r.Probes) != 2 {
				t.Fatalf("report lists %d containers and %d probes, want 2 and 2", len(r.Containers), len(r.Probes))
			}
			for _, c := range r.Containers {
				if c.Interrupted == tt.liveRestore {
					t.Errorf("container %s: interrupted=%v (%s)", c.Name, c.Interrupted, c.Reason)
				}
			}
			if !tt.liveRestore {
				return
			}
			for _, p := range r.Probes {
				if p.Failed != 0 || p.Sent < 10 {
					t.Errorf("probe %s: %d of %d failed", p.Name, p.Failed, p.Sent)
				}
			}
			// The docker CLI, an independent witness, agrees.
			for name, b := range before {
				a := testbed.Inspect(t, d.Host, name)
				if !a.Running || a.Pid != b.Pid || a.StartedAt != b.StartedAt {
					t.Errorf("docker inspect %s: before %+v after %+v", name, b, a)
				}
			}
			if got := testbed.RedisRunID(t, kv); got != runID {
				t.Errorf("redis run_id %s -> %s", runID, got)
			}
			if _, err := os.Stat(current + ".liveswap-backup-" + r.FromVersion); err != nil {
				t.Errorf("backup of the old binary: %v", err)
			}
		})
	}
}
