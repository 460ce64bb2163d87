package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/upgrade/liverestore"
)

// enableLiveRestore runs `liveswap enable-live-restore` against unit with
// only the unit named: the rest (kind, daemon.json, endpoint) is discovered
// from the unit's ExecStart and the daemon.json, as on a real host.
func enableLiveRestore(t *testing.T, liveswap string, sd *testbed.Systemd, unit string, args ...string) (int, *liverestore.Result) {
	t.Helper()
	args = append([]string{"enable-live-restore", "--systemd", "user", "--unit", unit, "--output", "json"}, args...)
	code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), args...)
	var r liverestore.Result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("enable-live-restore exit %d, output is not JSON: %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	t.Logf("enable-live-restore %v: exit %d, result %s, error %q; steps %+v; before an upgrade: %v", args[6:], code, r.Result, r.Error, r.Steps, r.BeforeUpgrade)
	return code, &r
}

func liveRestoreOn(t *testing.T, host string) bool {
	t.Helper()
	return strings.TrimSpace(testbed.DockerCLI(t, host, "info", "--format", "{{.LiveRestoreEnabled}}")) == "true"
}

// backups lists the daemon.json backups beside config.
func backups(t *testing.T, config string) []string {
	t.Helper()
	m, err := filepath.Glob(config + ".liveswap-backup-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEnableLiveRestore starts each daemon kind with live restore off and
// nginx and redis running, and walks the command through what an operator
// meets: a dry run (diff, nothing touched), a daemon.json the daemon would
// refuse (refused, file unchanged), the real change with both workloads
// probed every 20 ms during the reload (live restore on, no container
// restarted, no failed probe), and a second run (nothing to do). dockerd
// 20.10 and liveswapd both apply live-restore on SIGHUP.
func TestEnableLiveRestore(t *testing.T) {
	for _, target := range deployers {
		t.Run(target.kind, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			dp := deploy(t, target.kind, sd, false)
			liveswap := testbed.Build(t, "liveswap", "e2e")
			if liveRestoreOn(t, dp.host) {
				t.Fatal("the daemon starts with live restore on; the test needs it off")
			}
			orig, err := os.ReadFile(dp.config)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(orig, []byte(`"live-restore": false`)) {
				t.Fatalf("testbed daemon.json has no \"live-restore\": false:\n%s", orig)
			}
			want := bytes.Replace(orig, []byte(`"live-restore": false`), []byte(`"live-restore": true`), 1)

			t.Run("dry run", func(t *testing.T) {
				code, r := enableLiveRestore(t, liveswap, sd, dp.unit, "--dry-run")
				if code != 0 || r.Result != liverestore.Planned {
					t.Fatalf("exit %d result %s, want 0 planned (%s)", code, r.Result, r.Error)
				}
				if !strings.Contains(r.Diff, "-  \"live-restore\": false,") || !strings.Contains(r.Diff, "+  \"live-restore\": true,") {
					t.Errorf("diff does not show the change:\n%s", r.Diff)
				}
				if r.DaemonConfig != dp.config || r.Target != dp.kind {
					t.Errorf("discovered %s %s, want %s %s", r.Target, r.DaemonConfig, dp.kind, dp.config)
				}
				// What a person sees: the diff and the list of what else to fix.
				code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "enable-live-restore", "--systemd", "user", "--unit", dp.unit, "--dry-run")
				t.Logf("table output:\n%s%s", stdout, stderr)
				for _, want := range []string{"result:       planned", "live restore: off -> on (after the reload)", "+  \"live-restore\": true,", "Before an upgrade is safe, also fix:"} {
					if code != 0 || !strings.Contains(stdout, want) {
						t.Errorf("exit %d, table output lacks %q", code, want)
					}
				}
				requireFile(t, dp.config, orig)
			})

			t.Run("invalid daemon.json refused", func(t *testing.T) {
				bad := bytes.Replace(orig, []byte("{\n"), []byte("{\n  \"bogus-key\": 1,\n"), 1)
				if err := os.WriteFile(dp.config, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				w := testbed.Watch(t, dp.host, dp.web, dp.kv)
				code, r := enableLiveRestore(t, liveswap, sd, dp.unit, "--yes")
				w.Stop(t)
				if code != 1 || r.Result != liverestore.Refused {
					t.Fatalf("exit %d result %s, want 1 refused", code, r.Result)
				}
				w.RequireUninterrupted(t)
				if len(r.Containers) != 0 || len(r.Probes) != 0 {
					t.Errorf("refused before the snapshot, yet the result compares %d containers and %d probes", len(r.Containers), len(r.Probes))
				}
				if !strings.Contains(r.Error, "bogus-key") || !strings.Contains(r.Error, dp.config) {
					t.Errorf("error %q does not name the file and the key", r.Error)
				}
				requireFile(t, dp.config, bad)
				if b := backups(t, dp.config); len(b) != 0 {
					t.Errorf("backups written although refused: %v", b)
				}
				if liveRestoreOn(t, dp.host) {
					t.Error("live restore turned on although refused")
				}
				if err := os.WriteFile(dp.config, orig, 0o644); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("enabled by a reload", func(t *testing.T) {
				var code int
				var r *liverestore.Result
				w := restartWatched(t, dp.host, []*testbed.Workload{dp.web, dp.kv}, func() {
					code, r = enableLiveRestore(t, liveswap, sd, dp.unit, "--yes")
				})
				if code != 0 || r.Result != liverestore.Enabled || !r.LiveRestoreAfter || r.LiveRestoreBefore {
					t.Fatalf("exit %d result %s (before %v after %v), want 0 enabled off -> on: %s", code, r.Result, r.LiveRestoreBefore, r.LiveRestoreAfter, r.Error)
				}
				w.RequireUninterrupted(t)
				if len(r.Containers) != 2 {
					t.Errorf("verified %d containers, want 2", len(r.Containers))
				}
				for _, c := range r.Containers {
					if c.Interrupted {
						t.Errorf("%s interrupted: %s", c.Name, c.Reason)
					}
				}
				// The docker CLI, an independent witness, agrees.
				if !liveRestoreOn(t, dp.host) {
					t.Error("docker info: live restore still off")
				}
				// Only the value changed: every other byte, key order included.
				requireFile(t, dp.config, want)
				if r.Backup == "" {
					t.Fatal("no backup named")
				}
				requireFile(t, r.Backup, orig)
			})

			t.Run("second run does nothing", func(t *testing.T) {
				w := testbed.Watch(t, dp.host, dp.web, dp.kv)
				code, r := enableLiveRestore(t, liveswap, sd, dp.unit, "--yes")
				w.Stop(t)
				if code != 0 || r.Result != liverestore.AlreadyEnabled {
					t.Fatalf("exit %d result %s, want 0 already-enabled", code, r.Result)
				}
				w.RequireUninterrupted(t)
				requireFile(t, dp.config, want)
				if b := backups(t, dp.config); len(b) != 1 {
					t.Errorf("backups %v, want the one of the first change", b)
				}
			})
		})
		t.Run(target.kind+"/reload restarts the daemon", func(t *testing.T) {
			testReloadRestarts(t, target.kind)
		})
	}
}

// testReloadRestarts is TestEnableLiveRestore's negative twin: an override
// turns the unit's reload into a restart (ExecReload sends SIGTERM, and
// Restart=always starts the daemon again). Live restore is still off when
// the daemon stops, so the containers stop with it, although the new
// daemon comes up with live restore on. The command must say so — exit 4,
// both containers named — and put the old daemon.json back; the witness
// sees both go.
func testReloadRestarts(t *testing.T, kind string) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, kind, sd, false)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	sd.DropIn(t, dp.unit, "reload-restarts", "[Service]\nExecReload=\nExecReload=/bin/kill -s TERM $MAINPID\nRestart=always\nRestartSec=100ms\n")
	orig, err := os.ReadFile(dp.config)
	if err != nil {
		t.Fatal(err)
	}
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)
	code, r := enableLiveRestore(t, liveswap, sd, dp.unit, "--yes")
	// Restoring the file reloads, which restarts the daemon once more.
	waitLiveRestore(t, dp.host, false)
	w.Stop(t)
	if code != 4 || r.Result != liverestore.Failed {
		t.Fatalf("exit %d result %s, want 4 failed (%s)", code, r.Result, r.Error)
	}
	if len(r.Containers) != 2 {
		t.Errorf("compared %d containers, want 2", len(r.Containers))
	}
	for _, c := range r.Containers {
		if !c.Interrupted {
			t.Errorf("%s not reported interrupted, although the restart stopped it", c.Name)
		}
	}
	if !strings.Contains(r.Error, dp.web.Name) || !strings.Contains(r.Error, dp.kv.Name) {
		t.Errorf("error %q does not name both containers", r.Error)
	}
	if got := phaseStatus(r.Steps, "verify"); got != "failed" {
		t.Errorf("verify step %q, want failed", got)
	}
	if got := phaseStatus(r.Steps, "restore"); got != "done" {
		t.Errorf("restore step %q, want done", got)
	}
	requireFile(t, dp.config, orig)
	w.RequireInterrupted(t)
}

// waitLiveRestore waits until the daemon answers and reports live restore
// as want.
func waitLiveRestore(t *testing.T, host string, want bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := testbed.Docker(host, "info", "--format", "{{.LiveRestoreEnabled}}")
		if err == nil && strings.TrimSpace(out) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never reported live restore %v: %v %s", want, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func requireFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestEnableLiveRestoreRestores: a unit whose ExecReload does not signal the
// daemon (ExecReload=/bin/true) reloads "successfully" but live restore
// never comes on. The command must put the previous daemon.json back,
// reload again and exit 3, with nginx untouched.
func TestEnableLiveRestoreRestores(t *testing.T) {
	testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin)
	sd := testbed.StartSystemd(t)
	d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: false, UnitExtra: "ExecReload=\nExecReload=/bin/true"})
	web := testbed.RunNginx(t, d.Host, testbed.BuildImage(t, d))
	orig, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	w := testbed.Watch(t, d.Host, web)
	code, r := enableLiveRestore(t, testbed.Build(t, "liveswap", "e2e"), sd, d.Unit, "--yes", "--timeout", "2s")
	w.Stop(t)
	if code != 3 || r.Result != liverestore.Restored {
		t.Fatalf("exit %d result %s, want 3 restored (%s)", code, r.Result, r.Error)
	}
	if !strings.Contains(r.Error, "did not report live restore on") {
		t.Errorf("error %q does not say what failed", r.Error)
	}
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name+":"+s.Status)
	}
	if got := strings.Join(names, " "); got != "snapshot:done backup:done write:done reload:done confirm:failed restore:done" {
		t.Errorf("steps %s", got)
	}
	requireFile(t, d.ConfigPath, orig)
	if liveRestoreOn(t, d.Host) {
		t.Error("live restore is on after the restore")
	}
	w.RequireUninterrupted(t)
	if len(r.Containers) != 1 || r.Containers[0].Interrupted {
		t.Errorf("containers %+v, want nginx verified", r.Containers)
	}
}
