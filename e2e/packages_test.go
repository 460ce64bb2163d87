package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/upgrade"
)

// TestPackageUpgrade upgrades the stack as Debian 11 installs it — the
// docker.io 20.10.5 and containerd 1.4.13 packages, installed by the real
// dpkg with their maintainer scripts into the namespace's own dpkg
// database, their own unit files run by the private manager — to
// Debian 12's packages, with nginx and a redis holding 100 keys serving
// and the witness watching. In the namespace, systemctl reaches the
// private manager as the system's: a maintainer script's restart is real.
// In order, on one stack:
//  1. no .deb of the installed versions: refused, exit 1, nothing installed;
//  2. a repacked docker.io whose dockerd exits at start: rolled back to the
//     previous packages, exit 3, dpkg clean, containers untouched;
//  3. the bookworm packages (--allow-minor for containerd 1.4 -> 1.6):
//     exit 0, dpkg records them, dpkg --verify clean, every container kept,
//     and each daemon restarted exactly once — by liveswap: containerd's
//     postinst asked for a restart and policy-rc.d denied it;
//  4. the control: dpkg alone, reinstalling containerd, restarts it.
func TestPackageUpgrade(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin, "nsenter", "dpkg-deb")
	oldD, newD := testbed.FindRelease(t, "docker.io", "20.10.5"), testbed.FindRelease(t, "docker.io", "20.10.24")
	oldC, newC := testbed.FindRelease(t, "containerd", "1.4.13"), testbed.FindRelease(t, "containerd", "1.6.20")
	st := testbed.StartStack(t, testbed.StackOptions{Docker: oldD, Containerd: oldC, Packages: true})
	requirePackages(t, st, oldD.Version, oldC.Version)
	img := testbed.ImportImage(t, st.Host, st.Dir)
	web, kv := testbed.RunNginx(t, st.Host, img), testbed.RunRedis(t, st.Host, img)
	testbed.FillRedis(t, kv, 100)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	state := t.TempDir()

	plan := func(debs []string, previous ...string) string {
		t.Helper()
		file := filepath.Join(t.TempDir(), "plan.yaml")
		args := []string{"plan", "--systemd", "user", "--unit", testbed.DockerUnit, "--allow-minor", "--packages-dir", t.TempDir(), "-o", file}
		for _, d := range debs {
			args = append(args, "--deb", d)
		}
		for _, d := range previous {
			args = append(args, "--previous-deb", d)
		}
		code, out, errOut := st.Liveswap(t, liveswap, args...)
		t.Logf("liveswap plan: exit %d\n%s", code, errOut)
		if code != 0 {
			t.Fatalf("liveswap plan: exit %d\n%s\n%s", code, out, errOut)
		}
		return file
	}
	apply := func(planFile string) (int, *upgrade.Report, *testbed.Witness, map[string][]int) {
		t.Helper()
		w := testbed.Watch(t, st.Host, web, kv)
		pids := watchMainPIDs(st, testbed.ContainerdUnit, testbed.DockerUnit)
		start := time.Now()
		code, r := stackRun(t, st, liveswap, "apply", planFile, "--yes", "--state-dir", state)
		seen := pids()
		w.Stop(t)
		t.Logf("apply took %v; main PIDs seen: %v", time.Since(start).Round(time.Millisecond), seen)
		for _, k := range r.Packages {
			t.Logf("package %s: %s -> %s, maintainer scripts' requests denied: %q", k.Name, k.FromVersion, k.ToVersion, k.Denied)
		}
		for _, p := range r.Phases {
			t.Logf("  phase %s: %s %s %s", p.Name, p.Status, p.Detail, p.Error)
		}
		if _, err := os.Lstat(st.Path("/usr/sbin/policy-rc.d")); !os.IsNotExist(err) {
			t.Errorf("/usr/sbin/policy-rc.d is left after apply (the host had none): %v", err)
		}
		return code, r, w, seen
	}

	t.Run("previous packages unobtainable: refused", func(t *testing.T) {
		code, r, w, seen := apply(plan([]string{newD.Deb(), newC.Deb()}))
		if code != 1 || r.Result != upgrade.Refused {
			t.Fatalf("exit %d result %s error %q, want 1 refused", code, r.Result, r.Error)
		}
		if !strings.Contains(r.Error, "packages.previous") {
			t.Errorf("error %q does not name the check packages.previous", r.Error)
		}
		requirePackages(t, st, oldD.Version, oldC.Version)
		requireRestarts(t, seen, 0, 0)
		w.RequireUninterrupted(t)
	})

	t.Run("broken dockerd in the package: rolled back", func(t *testing.T) {
		broken := repackDocker(t, newD)
		code, r, w, seen := apply(plan([]string{broken, newC.Deb()}, oldD.Deb(), oldC.Deb()))
		if code != 3 || r.Result != upgrade.RolledBack {
			t.Fatalf("exit %d result %s error %q, want 3 rolled-back", code, r.Result, r.Error)
		}
		requirePackages(t, st, oldD.Version, oldC.Version)
		requireDpkgClean(t, st)
		if v := daemonVersion(t, st.Host); !strings.HasPrefix(v, "20.10.5") {
			t.Errorf("after the rollback dockerd reports %s, want 20.10.5", v)
		}
		w.RequireUninterrupted(t)
		if len(seen[testbed.ContainerdUnit]) != 3 {
			t.Errorf("containerd.service ran %v: want the old, the new and the old again", seen[testbed.ContainerdUnit])
		}
	})

	t.Run("bookworm packages: upgraded, one restart each by liveswap", func(t *testing.T) {
		code, r, w, seen := apply(plan([]string{newD.Deb(), newC.Deb()}, oldD.Deb(), oldC.Deb()))
		if code != 0 || r.Result != upgrade.Upgraded {
			t.Fatalf("exit %d result %s error %q, want 0 upgraded", code, r.Result, r.Error)
		}
		requirePackages(t, st, newD.Version, newC.Version)
		requireDpkgClean(t, st)
		requireRestarts(t, seen, 1, 1)
		denied := strings.Join(r.Packages[0].Denied, "\n")
		if !strings.Contains(denied, "containerd.service restart") {
			t.Errorf("policy-rc.d log %q lacks containerd's postinst restart: the evidence that the scripts asked and were denied", denied)
		}
		w.RequireUninterrupted(t)
		if w.KeysAfter[kv.Name] != 100 {
			t.Errorf("redis holds %d keys, want 100", w.KeysAfter[kv.Name])
		}
		// status: dpkg's version, the file's and the running process's agree.
		code, out, errOut := st.Liveswap(t, liveswap, "status", "--state-dir", state, "-o", "json")
		var s upgrade.Status
		if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 || len(s.Components) != 2 {
			t.Fatalf("liveswap status: exit %d, %v\n%s\n%s", code, err, out, errOut)
		}
		for _, c := range s.Components {
			t.Logf("status %s: package %s %s, file %s, running %s (PID %d), disagreement %q", c.Name, c.Package, c.PackageVersion, c.FileVersion, c.RunningVersion, c.PID, c.Disagreement)
			if c.Disagreement != "" || (c.PackageVersion != newD.Version && c.PackageVersion != newC.Version) {
				t.Errorf("status of %s: %+v", c.Name, c)
			}
		}
	})

	t.Run("control: dpkg alone restarts containerd", func(t *testing.T) {
		pids := watchMainPIDs(st, testbed.ContainerdUnit)
		out, err := st.Exec("dpkg", "--install", newC.Deb())
		seen := pids()
		if err != nil {
			t.Fatalf("dpkg --install: %v\n%s", err, out)
		}
		t.Logf("dpkg --install %s without liveswap: containerd.service main PIDs %v", filepath.Base(newC.Deb()), seen[testbed.ContainerdUnit])
		if len(seen[testbed.ContainerdUnit]) < 2 {
			t.Errorf("containerd.service was not restarted by its postinst: the maintainer scripts do not reach the manager, and the test above proves nothing")
		}
	})
}

// requirePackages checks what the namespace's dpkg records.
func requirePackages(t *testing.T, st *testbed.Stack, docker, containerd string) {
	t.Helper()
	for name, want := range map[string]string{"docker.io": docker, "containerd": containerd} {
		out, err := st.Exec("dpkg-query", "--show", "--showformat=${Version} ${db:Status-Abbrev}", name)
		if got := strings.TrimSpace(out); err != nil || got != want+" ii" {
			t.Errorf("dpkg records %s as %q (%v), want %q", name, got, err, want+" ii")
		}
	}
}

// requireDpkgClean runs dpkg --verify and --audit of the namespace.
func requireDpkgClean(t *testing.T, st *testbed.Stack) {
	t.Helper()
	if out, err := st.Exec("dpkg", "--verify", "docker.io", "containerd"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("dpkg --verify docker.io containerd: %v\n%s", err, out)
	}
	if out, err := st.Exec("dpkg", "--audit"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("dpkg --audit: %v\n%s", err, out)
	}
}

// requireRestarts checks how often each daemon's main process changed.
func requireRestarts(t *testing.T, seen map[string][]int, containerd, docker int) {
	t.Helper()
	for unit, want := range map[string]int{testbed.ContainerdUnit: containerd, testbed.DockerUnit: docker} {
		if got := len(seen[unit]) - 1; got != want {
			t.Errorf("%s main PIDs %v: %d restarts, want %d", unit, seen[unit], got, want)
		}
	}
}

// watchMainPIDs polls the units' MainPID every 10 ms until the returned
// function is called, which returns the distinct main processes each unit
// had, in order (0, no process, is left out): a restart by anyone adds one.
func watchMainPIDs(st *testbed.Stack, units ...string) func() map[string][]int {
	ctx, cancel := context.WithCancel(context.Background())
	seen := map[string][]int{}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, u := range units {
				p, err := st.Conn().GetServicePropertyContext(ctx, u, "MainPID")
				if err != nil {
					continue
				}
				pid, _ := p.Value.Value().(uint32)
				mu.Lock()
				if l := seen[u]; pid != 0 && (len(l) == 0 || l[len(l)-1] != int(pid)) {
					seen[u] = append(l, int(pid))
				}
				mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(50 * time.Millisecond) // the first reading
	return func() map[string][]int {
		cancel()
		<-done
		return seen
	}
}

// repackDocker builds docker.io of release r again with a dockerd that
// exits at start (it answers --version with the real one's line, so the
// pre-flight passes) and a higher version.
func repackDocker(t *testing.T, r testbed.Release) string {
	t.Helper()
	bad := testbed.BuildPackage(t, "./e2e/testdata/faultd", "dockerd", "-X main.mode=exit -X main.delegate="+r.Path("usr/sbin/dockerd"))
	dir := filepath.Join(t.TempDir(), "pkg")
	if out, err := exec.Command("cp", "-a", r.Root, dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, f := range []string{".deb", ".deb.sha256", ".complete"} {
		os.Remove(filepath.Join(dir, f))
	}
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr/sbin/dockerd"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := exec.Command("md5sum", filepath.Join(dir, "usr/sbin/dockerd")).Output()
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(name string, f func(string) string) {
		p := filepath.Join(dir, "DEBIAN", name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			out = append(out, f(l))
		}
		if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rewrite("control", func(l string) string {
		if strings.HasPrefix(l, "Version: ") {
			return l + "+broken1"
		}
		return l
	})
	rewrite("md5sums", func(l string) string {
		if strings.HasSuffix(l, " usr/sbin/dockerd") {
			return strings.Fields(string(sum))[0] + "  usr/sbin/dockerd"
		}
		return l
	})
	deb := filepath.Join(t.TempDir(), "docker.io_broken.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", dir, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	return deb
}
