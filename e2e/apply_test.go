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

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/testbed"
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

// deployment is a daemon under the test's systemd with nginx and redis in
// it, and a new binary to upgrade it to.
type deployment struct {
	kind, host, unit, config, image string
	current, newFile, newVersion    string
	web, kv                         *testbed.Workload
}

// deployers start each target kind: dockerd gets a same-version re-install
// (only 20.10.24 is installable here); liveswapd goes 1.0.0 -> 1.0.1.
var deployers = []struct {
	kind   string
	deploy func(t *testing.T, sd *testbed.Systemd, liveRestore bool) *deployment
}{
	{plan.Docker, func(t *testing.T, sd *testbed.Systemd, liveRestore bool) *deployment {
		testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
		dp := &deployment{kind: plan.Docker, current: testbed.CopyBinary(t, testbed.DockerdBin),
			newFile: testbed.CopyBinary(t, testbed.DockerdBin), newVersion: "20.10.24"}
		d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: liveRestore, Binary: dp.current})
		dp.host, dp.unit, dp.config = d.Host, d.Unit, d.ConfigPath
		dp.image = testbed.BuildImage(t, d)
		return dp
	}},
	{plan.Liveswapd, func(t *testing.T, sd *testbed.Systemd, liveRestore bool) *deployment {
		testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
		l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: liveRestore})
		return &deployment{kind: plan.Liveswapd, host: l.Host, unit: l.Unit, config: l.ConfigPath, image: "host",
			current: l.Bin, newFile: testbed.Build(t, "liveswapd", "1.0.1-e2e"), newVersion: "1.0.1-e2e"}
	}},
}

// deploy starts a target kind with nginx and redis running in it.
func deploy(t *testing.T, kind string, sd *testbed.Systemd, liveRestore bool) *deployment {
	t.Helper()
	for _, d := range deployers {
		if d.kind == kind {
			dp := d.deploy(t, sd, liveRestore)
			dp.web = testbed.RunNginx(t, dp.host, dp.image)
			dp.kv = testbed.RunRedis(t, dp.host, dp.image)
			return dp
		}
	}
	t.Fatalf("no deployer for %s", kind)
	return nil
}

// plan upgrades the deployment to its new binary, probing both workloads
// every 20 ms.
func (dp *deployment) plan() *plan.Plan {
	p := &plan.Plan{
		Target:   plan.Target{Kind: dp.kind, Unit: dp.unit, Systemd: "user", Endpoint: dp.host, DaemonConfig: dp.config},
		Binaries: []plan.Binary{{Path: dp.current, NewFile: dp.newFile, SHA256: sha256Of(dp.newFile), ExpectedVersion: dp.newVersion}},
		Canary:   plan.Canary{Image: dp.image, Command: []string{"/bin/true"}},
		Policy:   plan.Policy{ReadyTimeout: plan.Duration(60 * time.Second)},
	}
	for _, w := range []*testbed.Workload{dp.web, dp.kv} {
		p.Workloads = append(p.Workloads, plan.Workload{Container: w.Name, Probe: w.Kind, Address: w.Target(), Interval: plan.Duration(20 * time.Millisecond)})
	}
	p.Default()
	return p
}

func sha256Of(path string) string {
	s, err := checks.FileSHA256(path)
	if err != nil {
		panic(err)
	}
	return s
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

// TestApply upgrades a real dockerd and a liveswapd under systemd with nginx
// and redis serving; each twin turns live restore off and forces the same
// upgrade, and the verifier must name both containers as interrupted.
func TestApply(t *testing.T) {
	tests := []struct {
		name        string
		liveRestore bool
		args        []string
		wantCode    int
		wantResult  upgrade.Result
	}{
		{"live-restore on", true, nil, 0, upgrade.Upgraded},
		{"live-restore off forced", false, []string{"--force"}, 4, upgrade.Failed},
	}
	for _, target := range deployers {
		for _, tt := range tests {
			t.Run(target.kind+"/"+tt.name, func(t *testing.T) {
				sd := testbed.StartSystemd(t)
				dp := deploy(t, target.kind, sd, tt.liveRestore)
				liveswap := testbed.Build(t, "liveswap", "e2e")
				before := map[string]testbed.State{dp.web.Name: testbed.Inspect(t, dp.host, dp.web.Name), dp.kv.Name: testbed.Inspect(t, dp.host, dp.kv.Name)}
				runID := testbed.RedisRunID(t, dp.kv)

				planFile := writePlan(t, dp.plan())
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
				if !upgrade.VersionMatches(r.ToVersion, dp.newVersion) {
					t.Errorf("to_version %s, want %s", r.ToVersion, dp.newVersion)
				}
				// The docker CLI, an independent witness, agrees.
				for name, b := range before {
					a := testbed.Inspect(t, dp.host, name)
					if !a.Running || a.Pid != b.Pid || a.StartedAt != b.StartedAt {
						t.Errorf("docker inspect %s: before %+v after %+v", name, b, a)
					}
				}
				if got := testbed.RedisRunID(t, dp.kv); got != runID {
					t.Errorf("redis run_id %s -> %s", runID, got)
				}
				if _, err := os.Stat(dp.current + ".liveswap-backup-" + r.FromVersion); err != nil {
					t.Errorf("backup of the old binary: %v", err)
				}
			})
		}
	}
}
