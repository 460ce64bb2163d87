package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
	"github.com/liveswap/liveswap/upgrade/liverestore"
)

// deployLiveswapd starts liveswapd 1.0.0-e2e from bin (its unit's
// ExecStart) with nginx and redis, to be upgraded to 1.0.1-e2e.
func deployLiveswapd(t *testing.T, sd *testbed.Systemd, bin string) *deployment {
	t.Helper()
	requireLiveswapd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, Binary: bin})
	dp := &deployment{kind: plan.Liveswapd, host: l.Host, unit: l.Unit, config: l.ConfigPath, image: "host",
		current: bin, newFile: testbed.Build(t, "liveswapd", "1.0.1-e2e"), newVersion: "1.0.1-e2e"}
	dp.web = testbed.RunNginx(t, dp.host, dp.image)
	dp.kv = testbed.RunRedis(t, dp.host, dp.image)
	return dp
}

// requireNoSwapFiles: no staged copy and no backup beside path.
func requireNoSwapFiles(t *testing.T, path string) {
	t.Helper()
	for _, pat := range []string{".liveswap-new", ".liveswap-backup-*"} {
		if m, _ := filepath.Glob(path + pat); len(m) > 0 {
			t.Errorf("left beside the target: %v", m)
		}
	}
}

// TestApplyChecksTheTargetFile: what is swapped is what runs. A running
// liveswapd started from binary A while its path holds B is refused (exit
// 1, nothing touched); a target that is a symbolic link is refused with the
// real file to name, and naming it upgrades the file the link points at,
// keeping the link and a regular backup that status vouches for.
func TestApplyChecksTheTargetFile(t *testing.T) {
	liveswap := testbed.Build(t, "liveswap", "e2e")

	t.Run("running daemon is not the file at the path", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		bin := testbed.Build(t, "liveswapd", testbed.LiveswapdVersion) // A
		dp := deployLiveswapd(t, sd, bin)
		// The path now holds B, as after an interrupted run that put the
		// old file back while the new daemon kept running.
		other := testbed.Build(t, "liveswapd", "1.0.2-e2e")
		if err := os.Rename(other, bin+".tmp"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(bin+".tmp", bin); err != nil {
			t.Fatal(err)
		}
		old := recordOld(t, dp) // the daemon answers 1.0.0-e2e; the file is B
		if old.version != testbed.LiveswapdVersion {
			t.Fatalf("the running daemon reports %s, want %s", old.version, testbed.LiveswapdVersion)
		}
		w := testbed.Watch(t, dp.host, dp.web, dp.kv)
		code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", t.TempDir())
		w.Stop(t)
		r := decodeReport(t, stdout)
		t.Logf("apply: exit %d result %s error %q\n%s", code, r.Result, r.Error, stderr)
		if code != 1 || r.Result != upgrade.Refused {
			t.Fatalf("exit %d result %s, want 1 refused", code, r.Result)
		}
		for _, want := range []string{"the running daemon is not " + bin, "restart " + dp.unit + " first", "fix the binary path", "nothing was touched"} {
			if !strings.Contains(r.Error, want) {
				t.Errorf("error %q does not say %q", r.Error, want)
			}
		}
		requireIntact(t, dp, old, r, w, false)
		requireNoSwapFiles(t, bin)
	})

	t.Run("symlinked target", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		real := testbed.Build(t, "liveswapd", testbed.LiveswapdVersion)
		link := filepath.Join(t.TempDir(), "liveswapd")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		dp := deployLiveswapd(t, sd, link) // ExecStart runs the link
		old := recordOld(t, dp)
		state := t.TempDir()
		w := testbed.Watch(t, dp.host, dp.web, dp.kv)
		planFile := writePlan(t, dp.plan())
		code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "apply", planFile, "--yes", "--output", "json", "--state-dir", state)
		w.Stop(t)
		t.Logf("apply with path %s: exit %d\n%s%s", link, code, stdout, stderr)
		if code != 2 {
			t.Fatalf("exit %d, want 2 (the plan is refused)", code)
		}
		for _, want := range []string{planFile, "binaries[0].path", "symbolic link to " + real, "name the real file"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q", want)
			}
		}
		requireOldDaemon(t, dp, old)
		w.RequireUninterrupted(t)
		if target, err := os.Readlink(link); err != nil || target != real {
			t.Errorf("link now %q (%v), want it still naming %s", target, err, real)
		}
		requireNoSwapFiles(t, link)
		requireNoSwapFiles(t, real)

		// The remedy: name the real file. The link then runs the new binary.
		p := dp.plan()
		p.Binaries[0].Path = real
		w = testbed.Watch(t, dp.host, dp.web, dp.kv)
		code, stdout, stderr = liveswapCLI(t, liveswap, sd.Env(), "apply", writePlan(t, p), "--yes", "--output", "json", "--state-dir", state)
		w.Stop(t)
		r := decodeReport(t, stdout)
		if code != 0 || r.Result != upgrade.Upgraded {
			t.Fatalf("apply with the real file: exit %d result %s error %q\n%s", code, r.Result, r.Error, stderr)
		}
		w.RequireUninterrupted(t)
		if target, err := os.Readlink(link); err != nil || target != real {
			t.Errorf("link now %q (%v), want it still naming %s", target, err, real)
		}
		if v := daemonVersion(t, dp.host); v != "1.0.1-e2e" {
			t.Errorf("daemon reports %s, want 1.0.1-e2e", v)
		}
		st, err := upgrade.ReadStatus(state)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range st.Files {
			if f.Role != "backup" {
				continue
			}
			fi, err := os.Lstat(f.Path)
			if err != nil || !fi.Mode().IsRegular() || f.Problem != "" || f.SHA256 != old.sha {
				t.Errorf("backup %s: %v %v, problem %q, sha256 %s; want a regular file holding the old binary (%s)", f.Path, fi, err, f.Problem, f.SHA256, old.sha)
			}
		}
		if !strings.Contains(st.Advice, "`liveswap rollback` would restore") || strings.Contains(st.Advice, "cannot") {
			t.Errorf("status advice: %q", st.Advice)
		}
	})
}

// TestEnableLiveRestoreThroughSymlink: a daemon.json that is a symbolic
// link is edited where it points — the link kept, the file's mode and
// group kept — and the daemon, reloaded, reports live restore on with no
// container interrupted (the witness's probes).
func TestEnableLiveRestoreThroughSymlink(t *testing.T) {
	requireLiveswapd(t)
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: false})
	web := testbed.RunNginx(t, l.Host, "host")
	kv := testbed.RunRedis(t, l.Host, "host")
	// daemon.json becomes a link to the real file in a folder of its own.
	real := filepath.Join(t.TempDir(), "daemon.json")
	b, err := os.ReadFile(l.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, b, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(real, 0, 4321); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.ConfigPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, l.ConfigPath); err != nil {
		t.Fatal(err)
	}
	w := testbed.Watch(t, l.Host, web, kv)
	code, r := enableLiveRestore(t, testbed.Build(t, "liveswap", "e2e"), sd, l.Unit, "--yes")
	w.Stop(t)
	if code != 0 || r.Result != liverestore.Enabled {
		t.Fatalf("exit %d result %s error %q, want 0 enabled", code, r.Result, r.Error)
	}
	w.RequireUninterrupted(t)
	if !liveRestoreOn(t, l.Host) {
		t.Error("the daemon does not report live restore on")
	}
	if target, err := os.Readlink(l.ConfigPath); err != nil || target != real {
		t.Errorf("%s is no longer a link to %s: %q %v", l.ConfigPath, real, target, err)
	}
	got, _ := os.ReadFile(real)
	if !strings.Contains(string(got), `"live-restore": true`) {
		t.Errorf("the real file was not edited:\n%s", got)
	}
	fi, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	if gid := fileGID(fi); fi.Mode().Perm() != 0o640 || gid != 4321 {
		t.Errorf("real file mode %04o gid %d, want 0640 and 4321 kept", fi.Mode().Perm(), gid)
	}
	if r.Backup == "" || !strings.HasPrefix(r.Backup, real+".liveswap-backup-") {
		t.Errorf("backup %q, want it beside the real file %s", r.Backup, real)
	}
}

func fileGID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Gid }
