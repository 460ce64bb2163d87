package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/testbed"
)

func requireLiveswapd(t *testing.T) {
	t.Helper()
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
}

// TestLiveswapdDockerCLI drives liveswapd with the docker.io CLI only:
// version, info, run -d of nginx and redis from the host filesystem, ps,
// inspect, logs, stop, rm, and a reload of live-restore by SIGHUP.
func TestLiveswapdDockerCLI(t *testing.T) {
	requireLiveswapd(t)
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
	h := l.Host

	out := testbed.DockerCLI(t, h, "version")
	if !strings.Contains(out, " 1.0.0-e2e\n") || !strings.Contains(out, "1.41 (minimum version 1.24)") || strings.Contains(out, "Error") {
		t.Errorf("docker version:\n%s", out)
	}
	out = testbed.DockerCLI(t, h, "info")
	if !strings.Contains(out, "Live Restore Enabled: true") || !strings.Contains(out, "Server Version: 1.0.0-e2e") {
		t.Errorf("docker info:\n%s", out)
	}

	web := testbed.RunNginx(t, h, "host")
	kv := testbed.RunRedis(t, h, "host")
	out = testbed.DockerCLI(t, h, "ps")
	for _, w := range []*testbed.Workload{web, kv} {
		if !strings.Contains(out, w.Name) || !strings.Contains(out, w.ID[:12]) {
			t.Errorf("docker ps does not list %s:\n%s", w.Name, out)
		}
	}
	if n := strings.Count(testbed.DockerCLI(t, h, "ps", "-q", "--filter", "name="+kv.Name), "\n"); n != 1 {
		t.Errorf("ps --filter name=%s: %d lines", kv.Name, n)
	}
	st := testbed.Inspect(t, h, web.Name)
	if !st.Running || st.Pid == 0 || st.Status != "running" {
		t.Errorf("inspect %s: %+v", web.Name, st)
	}
	if got := strings.TrimSpace(testbed.DockerCLI(t, h, "inspect", "-f", "{{.Config.Image}} {{.HostConfig.NetworkMode}}", web.Name)); got != "host host" {
		t.Errorf("inspect image/network: %q", got)
	}
	out = testbed.DockerCLI(t, h, "logs", kv.Name)
	if !strings.Contains(out, "Ready to accept connections") {
		t.Errorf("docker logs %s:\n%s", kv.Name, out)
	}

	// An image not in the store is refused, saying how images get in.
	if out, err := testbed.Docker(h, "run", "-d", "nginx:latest"); err == nil || !strings.Contains(out, "docker load") {
		t.Errorf("run of a registry image: %v\n%s", err, out)
	}
	if out, err := testbed.Docker(h, "run", "-d", "--network", "bridge", "host", "true"); err == nil || !strings.Contains(out, "network mode") {
		t.Errorf("run --network bridge: %v\n%s", err, out)
	}

	// Reload: live-restore off then on again, without a restart.
	l.WriteConfig(t, false)
	reload(t, sd, l.Unit)
	waitCLI(t, h, "info", "Live Restore Enabled: false")
	os.WriteFile(l.ConfigPath, []byte(`{"live-restore": true, "bogus": 1}`), 0o644)
	// The daemon handles one SIGHUP after the other: once the second
	// refusal is logged, the first reload is over, applied or not.
	for i := 1; i <= 2; i++ {
		reload(t, sd, l.Unit)
		testbed.WaitUntil(t, fmt.Sprintf("refusal %d of the bad file in the daemon's log", i), 10*time.Second, func() bool {
			b, _ := os.ReadFile(l.LogPath)
			return strings.Count(string(b), "reload refused") >= i
		})
	}
	if out := testbed.DockerCLI(t, h, "info"); !strings.Contains(out, "Live Restore Enabled: false") {
		t.Errorf("a bad file was applied on reload:\n%s", out)
	}
	if !strings.Contains(l.Log(), `key \"bogus\"`) && !strings.Contains(l.Log(), `key "bogus"`) {
		t.Errorf("the refused reload is not logged with the key:\n%s", l.Log())
	}
	l.WriteConfig(t, true)
	reload(t, sd, l.Unit)
	waitCLI(t, h, "info", "Live Restore Enabled: true")
	if pid := sd.MainPID(t, l.Unit); pid == 0 {
		t.Error("the daemon is not running after reloads")
	}

	testbed.DockerCLI(t, h, "stop", web.Name)
	if st := testbed.Inspect(t, h, web.Name); st.Running || st.Status != "exited" {
		t.Errorf("after stop: %+v", st)
	}
	if err := testbed.WaitServing(web, 300*time.Millisecond); err == nil {
		t.Errorf("nginx still serves after docker stop")
	}
	testbed.DockerCLI(t, h, "rm", web.Name)
	testbed.DockerCLI(t, h, "rm", "-f", kv.Name)
	if out := strings.TrimSpace(testbed.DockerCLI(t, h, "ps", "-aq")); out != "" {
		t.Errorf("containers left after rm: %q", out)
	}
}

func reload(t *testing.T, sd *testbed.Systemd, unit string) {
	t.Helper()
	ch := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sd.Conn().ReloadUnitContext(ctx, unit, "replace", ch); err != nil {
		t.Fatalf("reload %s: %v", unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			t.Fatalf("reload %s: %s", unit, res)
		}
	case <-ctx.Done():
		t.Fatalf("reload %s: %v", unit, ctx.Err())
	}
}

func waitCLI(t *testing.T, host, cmd, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := testbed.Docker(host, cmd)
		if strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker %s never showed %q:\n%s", cmd, want, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLiveswapdRestartUnderSystemd restarts liveswapd's unit with nginx and
// redis running and probed every 20 ms. With live restore the containers
// keep their process, StartedAt and redis run_id, and no probe fails — even
// with KillMode=control-group, because each shim sits in its own scope.
// The negative twin (live-restore off) proves the detectors can fail.
func TestLiveswapdRestartUnderSystemd(t *testing.T) {
	tests := []struct {
		name        string
		liveRestore bool
		killMode    string
		wantSurvive bool
	}{
		{"live-restore/KillMode=process", true, "process", true},
		{"live-restore/KillMode=control-group", true, "control-group", true},
		{"no-live-restore/KillMode=process", false, "process", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireLiveswapd(t)
			sd := testbed.StartSystemd(t)
			l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: tt.liveRestore, KillMode: tt.killMode})
			web := testbed.RunNginx(t, l.Host, "host")
			kv := testbed.RunRedis(t, l.Host, "host")
			ws := []*testbed.Workload{web, kv}
			for _, w := range ws {
				shim, cg := shimCgroup(t, testbed.Inspect(t, l.Host, w.Name).Pid)
				t.Logf("%s: shim pid %d, cgroup %s", w.Name, shim, cg)
				if !strings.Contains(cg, "liveswapd-") || !strings.Contains(cg, ".scope") || strings.Contains(cg, l.Unit) {
					t.Errorf("%s: the shim is not in its own scope: %s\ndaemon log:\n%s", w.Name, cg, l.Log())
				}
			}
			oldPID := sd.MainPID(t, l.Unit)
			r := restartWatched(t, l.Host, ws, func() { sd.RestartUnit(t, l.Unit) })
			if newPID := sd.MainPID(t, l.Unit); newPID == oldPID || newPID == 0 {
				t.Errorf("the daemon was not restarted (main pid %d -> %d)", oldPID, newPID)
			}
			if tt.wantSurvive {
				r.RequireUninterrupted(t)
			} else {
				r.RequireInterrupted(t)
				for _, w := range ws {
					if st := testbed.Inspect(t, l.Host, w.Name); st.Status != "exited" {
						t.Errorf("%s: status %q after a restart with live-restore off, want exited", w.Name, st.Status)
					}
				}
			}
		})
	}
}

// shimCgroup returns the shim of a container process (its parent) and the
// shim's cgroup as /proc/PID/cgroup shows it (the systemd hierarchy).
func shimCgroup(t *testing.T, pid int) (int, string) {
	t.Helper()
	shim := parentOf(pid)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", shim))
	if err != nil {
		t.Fatalf("reading the cgroup of shim %d: %v", shim, err)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(line, "name=systemd:") || strings.HasPrefix(line, "0::") {
			lines = append(lines, line)
		}
	}
	return shim, strings.Join(lines, " ")
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// TestLiveswapdCrash SIGKILLs the daemon (and SIGINTs it) with live
// restore on: nginx and redis keep serving as the test's own witness sees
// them, and a container that exits while the daemon is down shows its real
// exit code once the daemon is back. The negative twin SIGINTs a daemon
// with live restore off: its shutdown stops the containers, and the same
// witness must see it.
func TestLiveswapdCrash(t *testing.T) {
	tests := []struct {
		name        string
		sig         syscall.Signal
		liveRestore bool
		wantSurvive bool
	}{
		{"SIGKILL", syscall.SIGKILL, true, true},
		{"SIGINT", syscall.SIGINT, true, true},
		{"SIGINT/no-live-restore", syscall.SIGINT, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireLiveswapd(t)
			// Made first, so its cleanup runs after the containers' removal.
			trigger := filepath.Join(testbed.ShortDir(t, "lsx-"), "exit-now")
			sd := testbed.StartSystemd(t)
			l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: tt.liveRestore})
			web := testbed.RunNginx(t, l.Host, "host")
			kv := testbed.RunRedis(t, l.Host, "host")
			testbed.RedisSet(t, kv, "kept", "across the crash")
			// "exiter" ends when the test says so: while the daemon is down.
			testbed.DockerCLI(t, l.Host, "run", "-d", "--name", "exiter", "host", "sh", "-c",
				"while [ ! -e "+trigger+" ]; do sleep 0.02; done; exit 42")
			exiter := testbed.Inspect(t, l.Host, "exiter").Pid
			exiterShim := parentOf(exiter)

			w := testbed.Watch(t, l.Host, web, kv)
			w.AwaitProbes(t, 5)
			pid := sd.MainPID(t, l.Unit)
			if err := syscall.Kill(pid, tt.sig); err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid)
			if tt.wantSurvive {
				if err := os.WriteFile(trigger, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				// The shim records the exit, then ends.
				waitGone(t, exiter)
				waitGone(t, exiterShim)
			}
			sd.StartUnit(t, l.Unit)
			w.AwaitProbes(t, 10)
			w.Stop(t)

			ex := testbed.Inspect(t, l.Host, "exiter")
			t.Logf("daemon pid %d got %s; exiter: %s, exit code %d", pid, unixSignalName(tt.sig), ex.Status, ex.ExitCode)
			if !tt.wantSurvive {
				w.RequireInterrupted(t)
				if ex.Running || ex.Status != "exited" || ex.ExitCode != 143 {
					t.Errorf("exiter after a shutdown without live restore: %+v, want exited 143 (SIGTERM from the daemon)", ex)
				}
				return
			}
			w.RequireUninterrupted(t)
			if ex.Running || ex.Status != "exited" || ex.ExitCode != 42 {
				t.Errorf("exiter after restart: %+v, want exited with code 42\ndaemon log:\n%s", ex, l.Log())
			}
		})
	}
}

func unixSignalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGINT"
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	testbed.WaitUntil(t, fmt.Sprintf("pid %d to end", pid), 10*time.Second, func() bool { return !procfs.Alive(pid) })
}

// TestLiveswapdLogsWhileDown stops the daemon while a container writes
// 10 MB to stdout: the shim, not the daemon, drains the output, so the
// container finishes while the daemon is down and its output is all in
// `docker logs` afterwards.
func TestLiveswapdLogsWhileDown(t *testing.T) {
	requireLiveswapd(t)
	// Made first, so its cleanup runs after the containers' removal.
	trigger := filepath.Join(testbed.ShortDir(t, "lsx-"), "write-now")
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
	const lines, width = 10240, 1024 // 10 MiB with the newlines
	// The container starts writing when the test says so: once the daemon is down.
	script := fmt.Sprintf(`while [ ! -e %s ]; do sleep 0.02; done; i=0; line=$(head -c %d /dev/zero | tr '\0' x); while [ $i -lt %d ]; do echo "$line"; i=$((i+1)); done; echo END-OF-OUTPUT`, trigger, width-1, lines)
	testbed.DockerCLI(t, l.Host, "run", "-d", "--name", "chatty", "host", "sh", "-c", script)
	st := testbed.Inspect(t, l.Host, "chatty")

	sd.StopUnit(t, l.Unit)
	if !procfs.Alive(st.Pid) {
		t.Fatal("the container died with the daemon")
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for procfs.Alive(st.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the container is still running 60 s later: blocked on its output?")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the container finished while the daemon was down")
	sd.StartUnit(t, l.Unit)

	ex := testbed.Inspect(t, l.Host, "chatty")
	if ex.Status != "exited" || ex.ExitCode != 0 {
		t.Errorf("chatty: %+v, want exited 0", ex)
	}
	cmd := exec.Command(testbed.DockerBin, "-H", l.Host, "logs", "chatty")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker logs: %v", err)
	}
	if len(out) != lines*width+len("END-OF-OUTPUT\n") || !strings.HasSuffix(string(out), "END-OF-OUTPUT\n") {
		t.Errorf("docker logs returned %d bytes ending %q, want %d", len(out), tail(out), lines*width+len("END-OF-OUTPUT\n"))
	}
}

func tail(b []byte) string {
	if len(b) > 40 {
		b = b[len(b)-40:]
	}
	return string(b)
}

// TestLiveswapdBadConfig starts liveswapd on broken daemon.json files: each
// must exit non-zero naming the key and the line, and start nothing.
func TestLiveswapdBadConfig(t *testing.T) {
	requireLiveswapd(t)
	bin := testbed.Build(t, "liveswapd", "1.0.0-e2e")
	tests := []struct {
		name    string
		content string
		flags   []string
		want    []string
	}{
		{"syntax error", "{\n  \"live-restore\": true,\n  \"debug\": tru\n}", nil, []string{"line 3", "invalid JSON"}},
		{"unknown key", "{\n  \"live-restore\": true,\n  \"live-restor\": false\n}", nil, []string{"line 3", `key "live-restor"`, `did you mean "live-restore"`}},
		{"wrong type", "{\n  \"live-restore\": \"yes\"\n}", nil, []string{"line 2", `key "live-restore"`, "expected boolean"}},
		{"tcp host", "{\n  \"live-restore\": true,\n  \"hosts\": [\"tcp://0.0.0.0:2375\"]\n}", nil, []string{"line 3", `key "hosts"`, "tcp hosts are not supported"}},
		{"flag conflict", "{\n  \"live-restore\": true\n}", []string{"--live-restore"}, []string{"line 2", `key "live-restore"`, "both as a flag and in the configuration file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testbed.ShortDir(t, "lsdd-")
			cfg := filepath.Join(dir, "daemon.json")
			// Any path the daemon would create, should it start despite the
			// error, is named on the command line.
			if err := os.WriteFile(cfg, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--config-file", cfg, "--data-root", dir + "/data", "--exec-root", dir + "/exec", "--pidfile", dir + "/pid"}, tt.flags...)
			if !strings.Contains(tt.content, "hosts") {
				args = append(args, "-H", "unix://"+dir+"/sock")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("liveswapd accepted the file:\n%s", out)
			}
			if cmd.ProcessState.ExitCode() <= 0 {
				t.Errorf("exit code %d, want > 0", cmd.ProcessState.ExitCode())
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("message %q does not contain %q", out, w)
				}
			}
			for _, p := range []string{"data", "exec", "pid", "sock"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was created although the configuration was refused", p)
				}
			}
			t.Logf("exit %d: %s", cmd.ProcessState.ExitCode(), strings.TrimSpace(string(out)))
		})
	}
}

// TestLiveswapdScopesUnderBurst starts a dozen containers at once, with
// nginx and redis among them, under a KillMode=control-group unit: every
// shim must land in its own scope (moves in flight share one D-Bus
// connection), so a restart of the unit kills none. The containers are
// found in /proc by their own command lines, placed by the manager, and
// watched by the test's witness, not taken from liveswapd. The negative
// twin moves every container back into the unit's cgroup (the manager's
// AttachProcessesToUnit): the same restart must kill them all, and the
// same witnesses see it.
func TestLiveswapdScopesUnderBurst(t *testing.T) {
	tests := []struct {
		name        string
		intoUnit    bool
		wantSurvive bool
	}{
		{"own scopes", false, true},
		{"moved into the unit's cgroup", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireLiveswapd(t)
			sd := testbed.StartSystemd(t)
			l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, KillMode: "control-group"})
			const n = 12
			// Seconds no other process sleeps: /proc finds each container by it.
			base := 1_000_000 + rand.IntN(1_000_000)*100
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					if out, err := testbed.Docker(l.Host, "run", "-d", "--name", fmt.Sprintf("burst-%02d", i), "host", "/bin/sleep", strconv.Itoa(base+i)); err != nil {
						t.Errorf("%v\n%s", err, out)
					}
				}(i)
			}
			web := testbed.RunNginx(t, l.Host, "host")
			kv := testbed.RunRedis(t, l.Host, "host")
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			testbed.RedisSet(t, kv, "kept", "across the restart")

			type proc struct {
				pid   int
				start uint64
			}
			sleepers := map[string]proc{}
			for name, pid := range sleepersByCmdline(t, base, n) {
				sleepers[name] = proc{pid, procfs.StartTime(pid)}
				if st := testbed.Inspect(t, l.Host, name); st.Pid != pid {
					t.Errorf("%s: docker inspect says pid %d, /proc says %d", name, st.Pid, pid)
				}
			}
			all := map[string]int{web.Name: testbed.Inspect(t, l.Host, web.Name).Pid, kv.Name: testbed.Inspect(t, l.Host, kv.Name).Pid}
			for name, p := range sleepers {
				all[name] = p.pid
			}
			for name, pid := range all {
				tree := testbed.ContainerTree(pid)
				if tt.intoUnit {
					sd.AttachToUnit(t, l.Unit, tree...)
				}
				// The manager's view: the container's own scope, or the unit.
				want := "liveswapd-" + testbed.Inspect(t, l.Host, name).ID[:12] + "-"
				if tt.intoUnit {
					want = l.Unit
				}
				for _, p := range tree {
					if unit := sd.UnitOfPID(t, p); !strings.HasPrefix(unit, want) {
						t.Errorf("%s: pid %d (%s) is in %s (cgroup %s), want %s", name, p, strings.Join(procfs.Cmdline(p), " "), unit, procfs.Cgroup(p), want)
					}
				}
			}
			if t.Failed() {
				t.Logf("daemon log:\n%s", l.Log())
				t.FailNow()
			}

			r := restartWatched(t, l.Host, []*testbed.Workload{web, kv}, func() { sd.RestartUnit(t, l.Unit) })
			survivors := 0
			for name, p := range sleepers {
				alive := procfs.Alive(p.pid) && procfs.StartTime(p.pid) == p.start
				st := testbed.Inspect(t, l.Host, name)
				if alive {
					survivors++
				}
				if alive != tt.wantSurvive || st.Running != tt.wantSurvive || (tt.wantSurvive && st.Pid != p.pid) {
					t.Errorf("%s: pid %d alive %v; docker inspect: running %v pid %d; want running: %v", name, p.pid, alive, st.Running, st.Pid, tt.wantSurvive)
				}
			}
			t.Logf("%d of %d sleepers survived the restart", survivors, len(sleepers))
			if !tt.wantSurvive {
				r.RequireInterrupted(t)
				return
			}
			r.RequireUninterrupted(t)
			if strings.Contains(l.Log(), "shim left in the daemon's cgroup") {
				t.Errorf("the daemon logged a failed scope move:\n%s", l.Log())
			}
		})
	}
}

// sleepersByCmdline finds in /proc the n processes running
// "/bin/sleep base+i", by container name burst-i.
func sleepersByCmdline(t *testing.T, base, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, pid := range procfs.PIDs() {
		args := procfs.Cmdline(pid)
		if len(args) != 2 || args[0] != "/bin/sleep" {
			continue
		}
		if secs, err := strconv.Atoi(args[1]); err == nil && secs >= base && secs < base+n {
			out[fmt.Sprintf("burst-%02d", secs-base)] = pid
		}
	}
	if len(out) != n {
		t.Fatalf("/proc shows %d of the %d burst containers: %v", len(out), n, out)
	}
	return out
}

// TestLiveswapdSocketActivation restarts liveswapd three times while the
// test calls its API every 5 ms. With its socket unit (-H fd://, as
// runtime/liveswapd.socket ships it) no connection is refused: calls wait
// for the new daemon. The twin listens on its own socket, and calls made
// while it restarts are refused, several per restart.
func TestLiveswapdSocketActivation(t *testing.T) {
	for _, socket := range []bool{true, false} {
		t.Run(fmt.Sprintf("socket unit %v", socket), func(t *testing.T) {
			requireLiveswapd(t)
			sd := testbed.StartSystemd(t)
			l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, Socket: socket})
			c, err := engine.New(l.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var errMu sync.Mutex
			var errs []string
			w := engine.WatchDowntime(context.Background(), pingRecorder(func(ctx context.Context) error {
				err := c.Ping(ctx)
				if err != nil && ctx.Err() == nil { // the watch's stop cuts the last call short
					errMu.Lock()
					errs = append(errs, err.Error())
					errMu.Unlock()
				}
				return err
			}), 5*time.Millisecond)
			testbed.WaitUntil(t, "calls before the restarts", 10*time.Second, func() bool { n, _ := w.Calls(); return n >= 10 })
			const restarts = 3
			for i := 0; i < restarts; i++ {
				sd.RestartUnit(t, l.Unit)
			}
			testbed.WaitUntil(t, "calls after the restarts", 10*time.Second, func() bool {
				n, _ := w.Calls()
				return n >= 30
			})
			gap := w.Stop()
			calls, failed := w.Calls()
			t.Logf("socket unit %v: %d of %d API calls failed, longest gap %v", socket, failed, calls, gap)
			errMu.Lock()
			for i, e := range errs {
				if i < 3 {
					t.Logf("  failed call: %s", e)
				}
			}
			errMu.Unlock()
			// Known: about one restart in twenty still ends one call with
			// EOF, a request the old daemon had accepted (refused
			// connections, the failure without the unit, never happen).
			if socket && failed > restarts {
				t.Errorf("%d of %d calls failed with the socket unit, want at most one per restart", failed, calls)
			}
			errMu.Lock()
			for _, e := range errs {
				if socket && !strings.HasSuffix(e, "EOF") {
					t.Errorf("with the socket unit a call failed other than by EOF: %s", e)
				}
			}
			errMu.Unlock()
			if !socket && failed <= restarts {
				t.Errorf("%d of %d calls failed without the socket unit, want more than one per restart: the twin cannot see refused connections", failed, calls)
			}
		})
	}
}

// pingRecorder is a Pinger made of a function.
type pingRecorder func(context.Context) error

func (f pingRecorder) Ping(ctx context.Context) error { return f(ctx) }
