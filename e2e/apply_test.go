package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	code, stdout, stderr, err := runCLI(bin, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout, stderr
}

// runCLI is liveswapCLI for any goroutine: it reports instead of failing.
func runCLI(bin string, env []string, args ...string) (int, string, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errb.String(), nil
	}
	return 0, out.String(), errb.String(), err
}

// applyWhile runs `liveswap apply` with args and calls during, on the
// test's goroutine, once the run has taken its snapshot (run-*-before.json
// in the state folder): liveswap's probes start right after it.
func applyWhile(t *testing.T, bin string, env []string, state string, args []string, during func()) (int, string, string) {
	t.Helper()
	type result struct {
		code        int
		out, stderr string
		err         error
	}
	done, finished := make(chan result, 1), make(chan struct{})
	go func() {
		defer close(finished)
		code, out, stderr, err := runCLI(bin, env, args...)
		done <- result{code, out, stderr, err}
	}()
	t.Cleanup(func() { <-finished }) // a failed test still lets the run end before the daemons stop
	for during != nil {
		if m, _ := filepath.Glob(filepath.Join(state, "run-*-before.json")); len(m) > 0 {
			during()
			break
		}
		select {
		case res := <-done:
			t.Fatalf("apply ended (exit %d, %v) before its snapshot\n%s\n%s", res.code, res.err, res.out, res.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res.code, res.out, res.stderr
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
// and redis serving, with the test's own witness watching. Each kind has two
// negative twins: live restore off and the upgrade forced (both containers
// restarted: the verifier must name them), and redis stalled during the swap
// with every container kept (the probes alone must fail the run).
func TestApply(t *testing.T) {
	tests := []struct {
		name        string
		liveRestore bool
		args        []string
		stall       bool // stall redis for 3 s from the snapshot on: longer than a probe's 1 s timeout
		wantCode    int
		wantResult  upgrade.Result
	}{
		{"live-restore on", true, nil, false, 0, upgrade.Upgraded},
		{"live-restore off forced", false, []string{"--force"}, false, 4, upgrade.Failed},
		{"redis stalls during the swap", true, nil, true, 4, upgrade.Failed},
	}
	for _, target := range deployers {
		for _, tt := range tests {
			t.Run(target.kind+"/"+tt.name, func(t *testing.T) {
				sd := testbed.StartSystemd(t)
				dp := deploy(t, target.kind, sd, tt.liveRestore)
				liveswap := testbed.Build(t, "liveswap", "e2e")

				planFile := writePlan(t, dp.plan())
				state := t.TempDir()
				args := append([]string{"apply", planFile, "--yes", "--output", "json", "--state-dir", state}, tt.args...)
				w := testbed.Watch(t, dp.host, dp.web, dp.kv)
				var during func()
				var endStall func() error
				if tt.stall {
					during = func() { endStall = testbed.StallRedis(t, dp.kv, 3*time.Second) }
				}
				code, stdout, stderr := applyWhile(t, liveswap, sd.Env(), state, args, during)
				if endStall != nil {
					if err := endStall(); err != nil {
						t.Fatal(err)
					}
				}
				w.Stop(t)
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
				probes := map[string]upgrade.ProbeReport{}
				for _, p := range r.Probes {
					probes[p.Name] = p
					t.Logf("liveswap's probe %s: %d of %d failed", p.Name, p.Failed, p.Sent)
				}
				switch {
				case !tt.liveRestore:
					// Both containers were restarted: every probe saw it, and
					// so did the witness.
					for _, p := range r.Probes {
						if p.Failed == 0 {
							t.Errorf("probe %s: none of %d failed, although its container was restarted", p.Name, p.Sent)
						}
					}
					w.RequireInterrupted(t)
					return
				case tt.stall:
					requireStalledOnly(t, dp, r, probes, w)
				default:
					for _, p := range r.Probes {
						if p.Failed != 0 || p.Sent < 10 {
							t.Errorf("probe %s: %d of %d failed", p.Name, p.Failed, p.Sent)
						}
					}
					// The witness, independent of liveswap, agrees.
					w.RequireUninterrupted(t)
				}
				if !upgrade.VersionMatches(r.ToVersion, dp.newVersion) {
					t.Errorf("to_version %s, want %s", r.ToVersion, dp.newVersion)
				}
				if v := daemonVersion(t, dp.host); !upgrade.VersionMatches(v, dp.newVersion) {
					t.Errorf("docker version: the daemon reports %s, want %s", v, dp.newVersion)
				}
				if _, err := os.Stat(dp.current + ".liveswap-backup-" + r.FromVersion); err != nil {
					t.Errorf("backup of the old binary: %v", err)
				}
			})
		}
	}
}

// requireStalledOnly checks a run failed on redis's probe alone: the report
// names the probe with its figures and no container, nginx's probe never
// failed, and the witness saw every process kept and redis unanswering too.
func requireStalledOnly(t *testing.T, dp *deployment, r *upgrade.Report, probes map[string]upgrade.ProbeReport, w *testbed.Witness) {
	t.Helper()
	kv, web := probes[dp.kv.Name], probes[dp.web.Name]
	if kv.Failed == 0 {
		t.Errorf("liveswap's probe %s: none of %d failed while redis was stalled", kv.Name, kv.Sent)
	}
	if web.Failed != 0 || web.Sent < 10 {
		t.Errorf("liveswap's probe %s: %d of %d failed, want none of at least 10", web.Name, web.Failed, web.Sent)
	}
	if want := fmt.Sprintf("probe %s: %d of %d failed", kv.Name, kv.Failed, kv.Sent); !strings.Contains(r.Error, want) {
		t.Errorf("error %q does not say %q", r.Error, want)
	}
	if strings.Contains(r.Error, dp.web.Name) {
		t.Errorf("error %q names %s, which kept answering", r.Error, dp.web.Name)
	}
	// The witness's one complaint is redis's probes: every container kept
	// its process, redis its run_id and keys, and nginx answered throughout.
	if bad := w.Uninterrupted(); len(bad) != 1 || !strings.HasPrefix(bad[0], dp.kv.Name+": ") || !strings.Contains(bad[0], "probes failed") {
		t.Errorf("witness: %q, want only %s's probes failing", bad, dp.kv.Name)
	}
}
