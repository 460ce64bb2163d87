package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
	"github.com/liveswap/liveswap/upgrade/liverestore"
)

// TestApplyNewDaemonWithoutLiveRestore: the new liveswapd is the planned
// release but comes up with live restore off (its daemon.json copy says
// so). The ready phase must refuse it — the next restart would stop every
// container — and roll back. The old daemon's restart stops the new one,
// which, without live restore, takes the containers with it: the rollback's
// own verify names both (exit 4), as the witness sees them go.
func TestApplyNewDaemonWithoutLiveRestore(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	dp.newFile = faultd(t, "no-live-restore", testbed.Build(t, "liveswapd", "1.0.1-e2e"))
	old := recordOld(t, dp)
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)
	code, stdout, stderr := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(),
		"apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", t.TempDir())
	w.Stop(t)
	r := decodeReport(t, stdout)
	t.Logf("exit %d, result %s, error: %s\nstderr:\n%s", code, r.Result, r.Error, stderr)
	if got := phaseStatus(r.Phases, "ready"); got != upgrade.PhaseFailed || !strings.Contains(r.Error, "live restore is off after the restart") {
		t.Errorf("ready phase %q, error %q; want the ready phase failed on live restore", got, r.Error)
	}
	if got := phaseStatus(r.Phases, "rollback"); got == "" {
		t.Error("no rollback ran")
	}
	if code != 4 || r.Result != upgrade.Failed {
		t.Fatalf("exit %d result %s, want 4 failed", code, r.Result)
	}
	requireOldDaemon(t, dp, old)
	w.RequireInterrupted(t)
}

// TestRollbackPolicyNever: with policy.rollback never, a new binary that
// fails at start stays in place and the run ends failed (exit 4) with no
// rollback phase; `liveswap rollback` is the way back. The daemon is down
// when it begins, so it has no record to compare with: the old binary
// runs again and the result is reverted-unverified (exit 5). The witness
// — the test's probes and the docker CLI — sees nothing interrupted: live
// restore kept the containers while no daemon ran.
func TestRollbackPolicyNever(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	dp.newFile = faultd(t, "exit", "")
	liveswap := testbed.Build(t, "liveswap", "e2e")
	old := recordOld(t, dp)
	state := t.TempDir()
	p := dp.plan()
	p.Policy.Rollback = "never"

	w := testbed.Watch(t, dp.host, dp.web, dp.kv)
	code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "apply", writePlan(t, p), "--yes", "--output", "json", "--state-dir", state)
	r := decodeReport(t, stdout)
	t.Logf("apply: exit %d, result %s, error: %s\nremedy: %s\nstderr:\n%s", code, r.Result, r.Error, r.Remedy, stderr)
	if code != 4 || r.Result != upgrade.Failed {
		t.Fatalf("apply: exit %d result %s, want 4 failed", code, r.Result)
	}
	if got := phaseStatus(r.Phases, "rollback"); got != "" {
		t.Errorf("a rollback phase ran (%s) although policy.rollback is never", got)
	}
	if got := sha256Of(dp.current); got != sha256Of(dp.newFile) {
		t.Errorf("the target is not the new binary after a failure with policy.rollback never (sha256 %s)", got)
	}
	if !strings.Contains(r.Remedy, "liveswap rollback") {
		t.Errorf("remedy %q does not name the way back", r.Remedy)
	}

	code, stdout, stderr = liveswapCLI(t, liveswap, sd.Env(), "rollback", "--yes", "--output", "json", "--state-dir", state)
	w.Stop(t)
	rb := decodeReport(t, stdout)
	t.Logf("rollback: exit %d, result %s, error: %s\nstderr:\n%s", code, rb.Result, rb.Error, stderr)
	if code != 5 || rb.Result != upgrade.RevertedUnverified {
		t.Fatalf("rollback: exit %d result %s, want 5 reverted-unverified (the daemon was down: nothing to compare)", code, rb.Result)
	}
	requireOldDaemon(t, dp, old)
	w.RequireUninterrupted(t)
}

// TestSnapshotVerify: `liveswap verify` against its own snapshot exits 0
// while nothing changed, and 1 naming the container once redis is
// restarted — the docker CLI, the independent witness, shows the new PID.
func TestSnapshotVerify(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	snap := t.TempDir() + "/before.json"
	if code, _, stderr := liveswapCLI(t, liveswap, sd.Env(), "snapshot", "--endpoint", dp.host, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "verify", "--snapshot", snap); code != 0 {
		t.Fatalf("verify with nothing changed: exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	pid := func() string {
		return strings.TrimSpace(testbed.DockerCLI(t, dp.host, "inspect", "--format", "{{.State.Pid}}", dp.kv.Name))
	}
	before := pid()
	testbed.DockerCLI(t, dp.host, "restart", dp.kv.Name)
	if after := pid(); after == before {
		t.Fatalf("docker: %s kept PID %s across docker restart", dp.kv.Name, after)
	}
	code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "verify", "--snapshot", snap, "--output", "json")
	t.Logf("verify after docker restart: exit %d\n%s%s", code, stdout, stderr)
	var got struct {
		Interrupted int              `json:"interrupted"`
		Containers  []upgrade.Change `json:"containers"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("verify output is not JSON: %v", err)
	}
	if code != 1 || got.Interrupted != 1 {
		t.Fatalf("verify after %s was restarted: exit %d, %d interrupted; want 1 and 1", dp.kv.Name, code, got.Interrupted)
	}
	for _, c := range got.Containers {
		if c.Interrupted != (c.Name == dp.kv.Name) {
			t.Errorf("%s: interrupted %v (%s)", c.Name, c.Interrupted, c.Reason)
		}
	}
}

// withDropIn installs a drop-in for unit while f runs and removes it after
// (both with a daemon-reload), so subtests sharing one daemon stay apart.
func withDropIn(t *testing.T, sd *testbed.Systemd, unit, name, content string, f func()) {
	t.Helper()
	dir := filepath.Join(sd.UnitDir, unit+".d")
	file := filepath.Join(dir, name+".conf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	sd.Reload(t)
	defer func() {
		os.Remove(file)
		sd.Reload(t)
	}()
	f()
}

// TestEnableLiveRestoreFailures walks enable-live-restore through what can
// stop it on one liveswapd with live restore off and nginx and redis
// running: each refusal exits 1 naming its cause with daemon.json
// unchanged; a restore whose own reload fails exits 4 (operator needed);
// the witness sees nothing interrupted throughout. The unit is stopped
// last, so the refusal of a unit that is not active comes at the end.
func TestEnableLiveRestoreFailures(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, false)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	orig, err := os.ReadFile(dp.config)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(t *testing.T, want string, args ...string) {
		t.Helper()
		w := testbed.Watch(t, dp.host, dp.web, dp.kv)
		code, r := enableLiveRestore(t, liveswap, sd, dp.unit, append([]string{"--yes"}, args...)...)
		w.Stop(t)
		if code != 1 || r.Result != liverestore.Refused {
			t.Fatalf("exit %d result %s, want 1 refused", code, r.Result)
		}
		if !strings.Contains(r.Error, want) || r.Remedy == "" {
			t.Errorf("error %q (remedy %q), want one naming %q and a remedy", r.Error, r.Remedy, want)
		}
		requireFile(t, dp.config, orig)
		if b := backups(t, dp.config); len(b) != 0 {
			t.Errorf("backups written although refused: %v", b)
		}
		w.RequireUninterrupted(t)
	}

	t.Run("unit without ExecReload", func(t *testing.T) {
		withDropIn(t, sd, dp.unit, "no-reload", "[Service]\nExecReload=\n", func() {
			refused(t, "has no ExecReload")
		})
	})
	t.Run("the unit reads another daemon.json", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "daemon.json")
		if err := os.WriteFile(other, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		refused(t, "reads "+dp.config+" (--config-file), not "+other, "--daemon-config", other)
		requireFile(t, other, orig)
	})
	t.Run("the restore's reload fails", func(t *testing.T) {
		// The first reload does nothing (live restore never comes on), the
		// second — the restore's — fails.
		mark := filepath.Join(t.TempDir(), "reloaded")
		withDropIn(t, sd, dp.unit, "reload-once", fmt.Sprintf("[Service]\nExecReload=\nExecReload=/bin/sh -c 'test ! -e %s && touch %s'\n", mark, mark), func() {
			w := testbed.Watch(t, dp.host, dp.web, dp.kv)
			code, r := enableLiveRestore(t, liveswap, sd, dp.unit, "--yes", "--timeout", "2s")
			w.Stop(t)
			if code != 4 || r.Result != liverestore.Failed {
				t.Fatalf("exit %d result %s, want 4 failed (%s)", code, r.Result, r.Error)
			}
			if got := phaseStatus(r.Steps, "restore"); got != "failed" || !strings.Contains(r.Error, "restoring "+dp.config) {
				t.Errorf("restore step %q, error %q; want the restore failed and named", got, r.Error)
			}
			if r.Backup == "" || !strings.Contains(r.Remedy, r.Backup) {
				t.Errorf("remedy %q does not name the backup %q", r.Remedy, r.Backup)
			}
			requireFile(t, dp.config, orig) // written back; only the reload failed
			w.RequireUninterrupted(t)
			for _, b := range backups(t, dp.config) {
				os.Remove(b)
			}
		})
	})
	t.Run("unit not active", func(t *testing.T) {
		sd.StopUnit(t, dp.unit)
		code, r := enableLiveRestore(t, liveswap, sd, dp.unit, "--yes")
		if code != 1 || r.Result != liverestore.Refused || !strings.HasPrefix(r.Error, "unit.active: ") {
			t.Fatalf("exit %d result %s error %q, want 1 refused by unit.active", code, r.Result, r.Error)
		}
		requireFile(t, dp.config, orig)
	})
}

// TestEnableLiveRestoreUnitStops: a reload that stops the daemon. The
// unit's main process lets the reload job end, tells systemd the service
// is stopping (STOPPING=1), and only then passes SIGHUP on to liveswapd,
// which keeps answering — with live restore on — for a few seconds. The
// command must not take that for success: the unit is not active after
// the reload. The old daemon.json goes back, but a unit on its way down
// cannot be reloaded: exit 4, operator needed. liveswapd had live restore
// on when it stopped, so the containers kept running; the test starts the
// unit again (with live restore on, as the operator would) and the witness
// sees them untouched.
func TestEnableLiveRestoreUnitStops(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{Binary: faultd(t, "stop-after-hup", testbed.Build(t, "liveswapd", testbed.LiveswapdVersion))})
	web, kv := testbed.RunNginx(t, l.Host, "host"), testbed.RunRedis(t, l.Host, "host")
	orig, err := os.ReadFile(l.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	w := testbed.Watch(t, l.Host, web, kv)
	code, r := enableLiveRestore(t, testbed.Build(t, "liveswap", "e2e"), sd, l.Unit, "--yes", "--timeout", "10s")
	if code != 4 || r.Result != liverestore.Failed {
		t.Fatalf("exit %d result %s, want 4 failed (%s)", code, r.Result, r.Error)
	}
	if got := phaseStatus(r.Steps, "confirm"); got != "failed" || !strings.Contains(r.Error, "after the reload, want active") {
		t.Errorf("confirm step %q, error %q; want it failed on the unit's state", got, r.Error)
	}
	if got := phaseStatus(r.Steps, "restore"); got != "failed" {
		t.Errorf("restore step %q, want failed: the unit was no longer active to reload", got)
	}
	requireFile(t, l.ConfigPath, orig)
	// The unit ends once its main process stops liveswapd; start it again.
	deadline := time.Now().Add(60 * time.Second)
	for sd.ActiveState(t, l.Unit) != "inactive" {
		if time.Now().After(deadline) {
			t.Fatalf("unit %s still %s", l.Unit, sd.ActiveState(t, l.Unit))
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.WriteConfig(t, true)
	sd.StartUnit(t, l.Unit)
	w.Stop(t)
	w.RequireUninterrupted(t)
}

// TestApplyWrongRelease: the new file is a real liveswapd of another
// release than the plan expects, and the pre-flight check that would have
// said so (binary.version) is skipped, as an operator may. The ready
// phase must still refuse the daemon that answers — it reports 1.0.2, the
// plan wants 1.0.1 — and roll back: exit 3, the old daemon back, the
// witness clean.
func TestApplyWrongRelease(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	dp.newFile = testbed.Build(t, "liveswapd", "1.0.2-e2e") // dp.newVersion stays 1.0.1-e2e
	old := recordOld(t, dp)
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)
	code, stdout, stderr := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(),
		"apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", t.TempDir(), "--skip", "binary.version")
	w.Stop(t)
	r := decodeReport(t, stdout)
	t.Logf("exit %d, result %s, error: %s\nstderr:\n%s", code, r.Result, r.Error, stderr)
	if code != 3 || r.Result != upgrade.RolledBack {
		t.Fatalf("exit %d result %s, want 3 rolled-back", code, r.Result)
	}
	if got := phaseStatus(r.Phases, "ready"); got != upgrade.PhaseFailed || !strings.Contains(r.Error, "daemon reports version 1.0.2-e2e, want 1.0.1-e2e") {
		t.Errorf("ready phase %q, error %q; want the version named", got, r.Error)
	}
	requireIntact(t, dp, old, r, w, true)
}
