package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/upgrade"
)

// releaseBinary copies a file of a release to a root-owned 0755 file of
// the test, as an operator stages a new binary.
func releaseBinary(t *testing.T, r testbed.Release, rel string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(rel)+"-"+r.Version)
	b, err := os.ReadFile(r.Path(rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestStackPatchUpgrade upgrades dockerd 20.10.5 (Debian 11) to 20.10.24
// (Debian 12) on the stack as Debian ships it — docker.socket,
// docker.service with -H fd://, containerd 1.4.13 in containerd.service —
// with an nginx and a redis holding 100 keys serving: liveswap plans from
// the unit and applies, and the witness (its own probes, the docker CLI,
// redis run_id and key count) sees nothing interrupted. The twin turns live
// restore off and forces the upgrade: the containers restart (redis by its
// restart policy, empty), and both liveswap and the witness must say so,
// liveswap naming the lost data.
func TestStackPatchUpgrade(t *testing.T) {
	tests := []struct {
		name        string
		liveRestore bool
		args        []string
		wantCode    int
		wantResult  upgrade.Result
	}{
		{"live restore on", true, nil, 0, upgrade.Upgraded},
		{"live restore off, forced", false, []string{"--force"}, 4, upgrade.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
			old, next := testbed.FindRelease(t, "docker.io", "20.10.5"), testbed.FindRelease(t, "docker.io", "20.10.24")
			st := testbed.StartStack(t, testbed.StackOptions{Docker: old, Containerd: testbed.FindRelease(t, "containerd", "1.4.13"),
				Daemon: map[string]any{"live-restore": tt.liveRestore}})
			if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.5") {
				t.Fatalf("the stack runs dockerd %s, want 20.10.5", v)
			}
			img := testbed.ImportImage(t, st.Host, st.Dir)
			web, kv := testbed.RunNginx(t, st.Host, img), testbed.RunRedis(t, st.Host, img)
			testbed.DockerCLI(t, st.Host, "update", "--restart", "always", kv.Name)
			testbed.FillRedis(t, kv, 100)

			liveswap := testbed.Build(t, "liveswap", "e2e")
			newFile := releaseBinary(t, next, "usr/sbin/dockerd")
			planFile := filepath.Join(t.TempDir(), "plan.yaml")
			code, out, errOut := st.Liveswap(t, liveswap, "plan", "--systemd", "user", "--unit", testbed.DockerUnit,
				"--new-binary", newFile, "--sha256", sha256Of(newFile), "-o", planFile)
			if code != 0 {
				t.Fatalf("liveswap plan: exit %d\n%s\n%s", code, out, errOut)
			}

			w := testbed.Watch(t, st.Host, web, kv)
			args := append([]string{"apply", planFile, "--yes", "--output", "json", "--state-dir", t.TempDir()}, tt.args...)
			code, out, errOut = st.Liveswap(t, liveswap, args...)
			if !tt.liveRestore {
				// redis comes back by its restart policy: wait for it, so
				// the witness reads its new run_id and key count.
				testbed.WaitUntil(t, "redis restarted by its policy", 30*time.Second, func() bool {
					return testbed.WaitServing(kv, 100*time.Millisecond) == nil
				})
			}
			w.Stop(t)
			if !strings.HasPrefix(strings.TrimSpace(out), "{") {
				t.Fatalf("apply: exit %d, no report\n%s\n%s", code, out, errOut)
			}
			r := decodeReport(t, out)
			t.Logf("apply: exit %d, result %s, %s -> %s, downtime %.0f ms, API errors %d of %d calls, error %q", code, r.Result, r.FromVersion, r.ToVersion, r.DaemonDowntimeMS, r.APIErrors, r.APICalls, r.Error)
			for _, p := range r.Probes {
				t.Logf("probe %s: %d sent, %d failed, max gap %.1f ms", p.Name, p.Sent, p.Failed, p.MaxGapMS)
			}
			for _, c := range r.Containers {
				t.Logf("container %s: interrupted %v (%s), data lost %v (%s)", c.Name, c.Interrupted, c.Reason, c.DataLost, c.Data)
			}
			if code != tt.wantCode || r.Result != tt.wantResult {
				t.Fatalf("exit %d result %s, want %d %s", code, r.Result, tt.wantCode, tt.wantResult)
			}
			if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.24") {
				t.Errorf("dockerd reports %s after the upgrade, want 20.10.24", v)
			}
			if exe := st.MainExe(t, testbed.DockerUnit); exe != "/usr/sbin/dockerd" {
				t.Errorf("docker.service runs %s, want /usr/sbin/dockerd (the new file in place)", exe)
			}
			if got := sha256Of(st.Path("/usr/sbin/dockerd")); got != sha256Of(newFile) {
				t.Errorf("/usr/sbin/dockerd is not the new binary")
			}
			if tt.liveRestore {
				w.RequireUninterrupted(t)
				if w.KeysAfter[kv.Name] != 100 {
					t.Errorf("redis holds %d keys after the upgrade, want 100", w.KeysAfter[kv.Name])
				}
				return
			}
			w.RequireInterrupted(t)
			if w.KeysAfter[kv.Name] != 0 {
				t.Errorf("witness: redis holds %d keys after the forced upgrade, want 0 (restarted empty)", w.KeysAfter[kv.Name])
			}
			for _, c := range r.Containers {
				if !c.Interrupted {
					t.Errorf("report: %s not interrupted", c.Name)
				}
				if c.Name == kv.Name && (!c.DataLost || !strings.Contains(c.Data, "redis keys 100 -> ")) {
					t.Errorf("report: redis data loss not named: data lost %v, %q", c.DataLost, c.Data)
				}
			}
			if !strings.Contains(r.Error, "data lost") {
				t.Errorf("error %q does not name the data loss", r.Error)
			}
		})
	}
}

// TestDemoDocker runs `liveswap demo docker` — `make demo` — which checks
// each step's exit status itself; the witnessed figures are the stack
// tests'.
func TestDemoDocker(t *testing.T) {
	testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	out, err := exec.Command(liveswap, "demo", "docker").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("liveswap demo docker: %v", err)
	}
	for _, want := range []string{"Live Restore Enabled: false", "Live Restore Enabled: true", "result:   refused", "RELEASES.md",
		"result:   upgraded", "dockerd 20.10.24+dfsg1, containerd 1.6.20", "result:   failed", "LOST: redis keys 100 -> 0", "==> done:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
}

// stackOf starts the stock stack with a dockerd and a containerd release
// and nginx and a redis holding 100 keys.
func stackOf(t *testing.T, docker, containerd string) (*testbed.Stack, *testbed.Workload, *testbed.Workload) {
	t.Helper()
	testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
	st := testbed.StartStack(t, testbed.StackOptions{Docker: testbed.FindRelease(t, "docker.io", docker),
		Containerd: testbed.FindRelease(t, "containerd", containerd)})
	if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, docker) {
		t.Fatalf("the stack runs dockerd %s, want %s", v, docker)
	}
	img := testbed.ImportImage(t, st.Host, st.Dir)
	web, kv := testbed.RunNginx(t, st.Host, img), testbed.RunRedis(t, st.Host, img)
	testbed.FillRedis(t, kv, 100)
	return st, web, kv
}

// stackRun runs a liveswap command in the stack's namespace that prints a
// report, and returns its exit status and report.
func stackRun(t *testing.T, st *testbed.Stack, liveswap string, args ...string) (int, *upgrade.Report) {
	t.Helper()
	code, out, errOut := st.Liveswap(t, liveswap, append(args, "--output", "json")...)
	if !strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("liveswap %s: exit %d, no report\n%s\n%s", args[0], code, out, errOut)
	}
	r := decodeReport(t, out)
	t.Logf("liveswap %s: exit %d, result %s, %s -> %s, downtime %.0f ms, API errors %d of %d, error %q",
		args[0], code, r.Result, r.FromVersion, r.ToVersion, r.DaemonDowntimeMS, r.APIErrors, r.APICalls, r.Error)
	for _, p := range r.Probes {
		t.Logf("  probe %s: %d sent, %d failed, max gap %.1f ms", p.Name, p.Sent, p.Failed, p.MaxGapMS)
	}
	return code, r
}

// planStack writes a plan for the stack's dockerd to newFile.
func planStack(t *testing.T, st *testbed.Stack, liveswap, newFile string, flags ...string) string {
	t.Helper()
	planFile := filepath.Join(t.TempDir(), "plan.yaml")
	args := append([]string{"plan", "--systemd", "user", "--unit", testbed.DockerUnit,
		"--new-binary", newFile, "--sha256", sha256Of(newFile), "-o", planFile}, flags...)
	if code, out, errOut := st.Liveswap(t, liveswap, args...); code != 0 {
		t.Fatalf("liveswap plan: exit %d\n%s\n%s", code, out, errOut)
	}
	return planFile
}

// TestStackMajorUpgrade jumps Debian 12's dockerd 20.10.24 to Debian 13's
// 26.1.5 — the next stable's — on the stock stack: refused without
// --allow-major with nothing touched; with it upgraded, every container kept
// (witness); then rolled back to 20.10.24, whose older API the client must
// negotiate again. The second case plans the downgrade 26.1.5 -> 20.10.24.
func TestStackMajorUpgrade(t *testing.T) {
	t.Run("20.10.24 to 26.1.5 and back", func(t *testing.T) {
		st, web, kv := stackOf(t, "20.10.24", "1.6.20")
		liveswap := testbed.Build(t, "liveswap", "e2e")
		newFile := releaseBinary(t, testbed.FindRelease(t, "docker.io", "26.1.5"), "usr/sbin/dockerd")
		oldSHA := sha256Of(st.Path("/usr/sbin/dockerd"))
		state := t.TempDir()

		w := testbed.Watch(t, st.Host, web, kv)
		code, r := stackRun(t, st, liveswap, "apply", planStack(t, st, liveswap, newFile), "--yes", "--state-dir", state)
		w.Stop(t)
		if code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, "major upgrade") {
			t.Fatalf("without --allow-major: exit %d result %s error %q, want 1 refused naming the major upgrade", code, r.Result, r.Error)
		}
		if sha256Of(st.Path("/usr/sbin/dockerd")) != oldSHA {
			t.Fatal("the refused run changed /usr/sbin/dockerd")
		}
		w.RequireUninterrupted(t)

		w = testbed.Watch(t, st.Host, web, kv)
		code, r = stackRun(t, st, liveswap, "apply", planStack(t, st, liveswap, newFile, "--allow-major"), "--yes", "--state-dir", state)
		w.Stop(t)
		if code != 0 || r.Result != upgrade.Upgraded {
			t.Fatalf("with --allow-major: exit %d result %s, want 0 upgraded", code, r.Result)
		}
		if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "26.1.5") {
			t.Fatalf("dockerd reports %s, want 26.1.5", v)
		}
		w.RequireUninterrupted(t)
		testbed.DockerCLI(t, st.Host, "exec", kv.Name, "/bin/true") // 26.1.5 manages what 20.10.24 created

		w = testbed.Watch(t, st.Host, web, kv)
		code, r = stackRun(t, st, liveswap, "rollback", "--yes", "--state-dir", state)
		w.Stop(t)
		if code != 0 || r.Result != upgrade.Reverted {
			t.Fatalf("rollback: exit %d result %s error %q, want 0 reverted", code, r.Result, r.Error)
		}
		if !strings.HasPrefix(r.FromVersion, "26.1.5") || !strings.HasPrefix(r.ToVersion, "20.10.24") {
			t.Errorf("the rollback reports %s -> %s, want 26.1.5 -> 20.10.24", r.FromVersion, r.ToVersion)
		}
		if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.24") {
			t.Fatalf("after the rollback dockerd reports %s, want 20.10.24", v)
		}
		if sha256Of(st.Path("/usr/sbin/dockerd")) != oldSHA {
			t.Error("after the rollback /usr/sbin/dockerd is not the old binary")
		}
		w.RequireUninterrupted(t)
	})

	t.Run("26.1.5 down to 20.10.24", func(t *testing.T) {
		st, web, kv := stackOf(t, "26.1.5", "1.6.20")
		liveswap := testbed.Build(t, "liveswap", "e2e")
		newFile := releaseBinary(t, testbed.FindRelease(t, "docker.io", "20.10.24"), "usr/sbin/dockerd")
		w := testbed.Watch(t, st.Host, web, kv)
		code, r := stackRun(t, st, liveswap, "apply", planStack(t, st, liveswap, newFile, "--allow-downgrade", "--allow-major"),
			"--yes", "--state-dir", t.TempDir())
		w.Stop(t)
		if code != 0 || r.Result != upgrade.Upgraded {
			t.Fatalf("downgrade: exit %d result %s error %q, want 0 upgraded", code, r.Result, r.Error)
		}
		if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.24") {
			t.Fatalf("dockerd reports %s, want 20.10.24", v)
		}
		w.RequireUninterrupted(t)
	})
}

// containerdVersion is the containerd version the stack's dockerd reports
// (GET /version Components: dockerd asks the containerd it talks to).
func containerdVersion(t *testing.T, host string) string {
	t.Helper()
	return strings.TrimSpace(testbed.DockerCLI(t, host, "version", "--format",
		`{{range .Server.Components}}{{if eq .Name "containerd"}}{{.Version}}{{end}}{{end}}`))
}

// planBinaries writes a plan for the stack with several new binaries, one
// --new-binary PATH --sha256 HEX pair each.
func planBinaries(t *testing.T, st *testbed.Stack, liveswap string, files []string, flags ...string) string {
	t.Helper()
	planFile := filepath.Join(t.TempDir(), "plan.yaml")
	args := []string{"plan", "--systemd", "user", "--unit", testbed.DockerUnit, "-o", planFile}
	for _, f := range files {
		args = append(args, "--new-binary", f, "--sha256", sha256Of(f))
	}
	code, out, errOut := st.Liveswap(t, liveswap, append(args, flags...)...)
	if code != 0 {
		t.Fatalf("liveswap plan: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("liveswap plan:%s", errOut)
	return planFile
}

// logComponents logs each component's versions as the report gives them.
func logComponents(t *testing.T, r *upgrade.Report) {
	t.Helper()
	for _, c := range r.Components {
		t.Logf("  component %s (%s): %s -> %s", c.Name, c.Unit, c.FromVersion, c.ToVersion)
	}
}

// requireRuns fails unless unit's main process runs path itself (not the
// replaced, deleted file).
func requireRuns(t *testing.T, st *testbed.Stack, unit, path string) {
	t.Helper()
	if exe := st.MainExe(t, unit); exe != path {
		t.Errorf("%s runs %q, want %s", unit, exe, path)
	}
}

// TestStackContainerdUpgrade upgrades containerd alone, 1.6.20 (Debian 12)
// to 1.7.24 (Debian 13) — one minor step, which containerd's RELEASES.md
// supports — under dockerd 20.10.24 on the stock stack: containerd.service
// is restarted, docker.service is not, every container keeps running; then
// `liveswap rollback` brings 1.6.20 back as carefully.
func TestStackContainerdUpgrade(t *testing.T) {
	st, web, kv := stackOf(t, "20.10.24", "1.6.20")
	liveswap := testbed.Build(t, "liveswap", "e2e")
	newFile := releaseBinary(t, testbed.FindRelease(t, "containerd", "1.7.24"), "usr/bin/containerd")
	planFile := planBinaries(t, st, liveswap, []string{newFile})
	dockerdPID := st.MainPID(t, testbed.DockerUnit)

	w := testbed.Watch(t, st.Host, web, kv)
	state := t.TempDir()
	code, r := stackRun(t, st, liveswap, "apply", planFile, "--yes", "--state-dir", state)
	w.Stop(t)
	logComponents(t, r)
	if code != 0 || r.Result != upgrade.Upgraded {
		t.Fatalf("exit %d result %s error %q, want 0 upgraded", code, r.Result, r.Error)
	}
	if len(r.Components) != 1 || r.Components[0].Name != "containerd" || r.Components[0].Unit != testbed.ContainerdUnit ||
		!strings.HasPrefix(r.Components[0].FromVersion, "1.6.20") || !strings.HasPrefix(r.Components[0].ToVersion, "1.7.24") {
		t.Errorf("report components %+v, want containerd (containerd.service) 1.6.20 -> 1.7.24", r.Components)
	}
	requireRuns(t, st, testbed.ContainerdUnit, "/usr/bin/containerd")
	if v := containerdVersion(t, st.Host); !strings.HasPrefix(v, "1.7.24") {
		t.Errorf("the engine reports containerd %s, want 1.7.24", v)
	}
	if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.24") {
		t.Errorf("dockerd reports %s, want 20.10.24 still", v)
	}
	if pid := st.MainPID(t, testbed.DockerUnit); pid != dockerdPID {
		t.Errorf("dockerd was restarted (pid %d -> %d): only containerd changed", dockerdPID, pid)
	}
	backup := st.Path("/usr/bin/containerd.liveswap-backup-1.6.20~ds1")
	if _, err := os.Stat(backup); err != nil {
		t.Errorf("no backup named after containerd's own version: %v", err)
	}
	w.RequireUninterrupted(t)
	if w.KeysAfter[kv.Name] != 100 {
		t.Errorf("redis holds %d keys, want 100", w.KeysAfter[kv.Name])
	}
	testbed.DockerCLI(t, st.Host, "exec", kv.Name, "/bin/true") // containerd 1.7 manages what 1.6 started

	// `liveswap rollback` brings containerd 1.6.20 back the same way.
	oldSHA := sha256Of(backup)
	w = testbed.Watch(t, st.Host, web, kv)
	code, r = stackRun(t, st, liveswap, "rollback", "--yes", "--state-dir", state)
	w.Stop(t)
	logComponents(t, r)
	if code != 0 || r.Result != upgrade.Reverted {
		t.Fatalf("rollback: exit %d result %s error %q, want 0 reverted", code, r.Result, r.Error)
	}
	if len(r.Components) != 1 || !strings.HasPrefix(r.Components[0].FromVersion, "1.7.24") || !strings.HasPrefix(r.Components[0].ToVersion, "1.6.20") {
		t.Errorf("rollback components %+v, want containerd 1.7.24 -> 1.6.20", r.Components)
	}
	requireRuns(t, st, testbed.ContainerdUnit, "/usr/bin/containerd")
	if v := containerdVersion(t, st.Host); !strings.HasPrefix(v, "1.6.20") {
		t.Errorf("after the rollback the engine reports containerd %s, want 1.6.20", v)
	}
	if sha256Of(st.Path("/usr/bin/containerd")) != oldSHA {
		t.Error("after the rollback /usr/bin/containerd is not the old binary")
	}
	w.RequireUninterrupted(t)
}

// TestStackDebianUpgrade upgrades the stack of Debian 11 to Debian 12's:
// dockerd 20.10.5 -> 20.10.24 and containerd 1.4.13 -> 1.6.20. containerd
// skips 1.5, beyond its documented path: refused without --allow-minor
// (the message cites containerd's RELEASES.md), upgraded with it —
// containerd.service first, then docker.service — and both daemons run
// their new releases.
func TestStackDebianUpgrade(t *testing.T) {
	st, web, kv := stackOf(t, "20.10.5", "1.4.13")
	liveswap := testbed.Build(t, "liveswap", "e2e")
	dockerd := releaseBinary(t, testbed.FindRelease(t, "docker.io", "20.10.24"), "usr/sbin/dockerd")
	containerd := releaseBinary(t, testbed.FindRelease(t, "containerd", "1.6.20"), "usr/bin/containerd")
	state := t.TempDir()
	oldContainerd := sha256Of(st.Path("/usr/bin/containerd"))

	w := testbed.Watch(t, st.Host, web, kv)
	code, r := stackRun(t, st, liveswap, "apply", planBinaries(t, st, liveswap, []string{dockerd, containerd}), "--yes", "--state-dir", state)
	w.Stop(t)
	if code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, "containerd 1.4.13") || !strings.Contains(r.Error, "RELEASES.md") {
		t.Fatalf("without --allow-minor: exit %d result %s error %q, want 1 refused citing containerd's RELEASES.md", code, r.Result, r.Error)
	}
	if sha256Of(st.Path("/usr/bin/containerd")) != oldContainerd {
		t.Fatal("the refused run changed /usr/bin/containerd")
	}
	w.RequireUninterrupted(t)

	w = testbed.Watch(t, st.Host, web, kv)
	code, r = stackRun(t, st, liveswap, "apply", planBinaries(t, st, liveswap, []string{dockerd, containerd}, "--allow-minor"), "--yes", "--state-dir", state)
	w.Stop(t)
	logComponents(t, r)
	if code != 0 || r.Result != upgrade.Upgraded {
		t.Fatalf("with --allow-minor: exit %d result %s error %q, want 0 upgraded", code, r.Result, r.Error)
	}
	if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.24") {
		t.Errorf("dockerd reports %s, want 20.10.24", v)
	}
	if v := containerdVersion(t, st.Host); !strings.HasPrefix(v, "1.6.20") {
		t.Errorf("the engine reports containerd %s, want 1.6.20", v)
	}
	requireRuns(t, st, testbed.DockerUnit, "/usr/sbin/dockerd")
	requireRuns(t, st, testbed.ContainerdUnit, "/usr/bin/containerd")
	for _, b := range []string{"/usr/sbin/dockerd.liveswap-backup-20.10.5+dfsg1", "/usr/bin/containerd.liveswap-backup-1.4.13~ds1"} {
		if _, err := os.Stat(st.Path(b)); err != nil {
			t.Errorf("backup: %v", err)
		}
	}
	w.RequireUninterrupted(t)
	if w.KeysAfter[kv.Name] != 100 {
		t.Errorf("redis holds %d keys, want 100", w.KeysAfter[kv.Name])
	}
}

// TestStackContainerdFails plans dockerd and a containerd that reports
// 1.7.24 but exits at start (faultd answering --version with the real
// 1.7.24's): the restart of containerd.service fails, apply rolls both
// binaries back (exit 3), and the old containerd and dockerd run again
// with every container untouched.
func TestStackContainerdFails(t *testing.T) {
	st, web, kv := stackOf(t, "20.10.24", "1.6.20")
	liveswap := testbed.Build(t, "liveswap", "e2e")
	real := testbed.FindRelease(t, "containerd", "1.7.24").Path("usr/bin/containerd")
	broken := testbed.BuildPackage(t, "./e2e/testdata/faultd", "containerd", "-X main.mode=exit -X main.delegate="+real)
	dockerd := releaseBinary(t, testbed.FindRelease(t, "docker.io", "20.10.24"), "usr/sbin/dockerd")
	oldContainerd, oldDockerd := sha256Of(st.Path("/usr/bin/containerd")), sha256Of(st.Path("/usr/sbin/dockerd"))
	planFile := planBinaries(t, st, liveswap, []string{dockerd, broken})

	w := testbed.Watch(t, st.Host, web, kv)
	code, r := stackRun(t, st, liveswap, "apply", planFile, "--yes", "--state-dir", t.TempDir())
	w.Stop(t)
	logComponents(t, r)
	for _, p := range r.Phases {
		if p.Status != "done" {
			t.Logf("  phase %s: %s %s %s", p.Name, p.Status, p.Error, p.Detail)
		}
	}
	if code != 3 || r.Result != upgrade.RolledBack {
		t.Fatalf("exit %d result %s error %q, want 3 rolled-back", code, r.Result, r.Error)
	}
	if sha256Of(st.Path("/usr/bin/containerd")) != oldContainerd || sha256Of(st.Path("/usr/sbin/dockerd")) != oldDockerd {
		t.Error("the old binaries are not back in place")
	}
	requireRuns(t, st, testbed.ContainerdUnit, "/usr/bin/containerd")
	requireRuns(t, st, testbed.DockerUnit, "/usr/sbin/dockerd")
	if v := containerdVersion(t, st.Host); !strings.HasPrefix(v, "1.6.20") {
		t.Errorf("the engine reports containerd %s, want 1.6.20", v)
	}
	if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.24") {
		t.Errorf("dockerd reports %s, want 20.10.24", v)
	}
	w.RequireUninterrupted(t)
	if w.KeysAfter[kv.Name] != 100 {
		t.Errorf("redis holds %d keys, want 100", w.KeysAfter[kv.Name])
	}
}
