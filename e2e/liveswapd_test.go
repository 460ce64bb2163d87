package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/probe"
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

	// A registry image is refused with a message saying what to use.
	if out, err := testbed.Docker(h, "run", "-d", "nginx:latest"); err == nil || !strings.Contains(out, `use image "host"`) {
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
	reload(t, sd, l.Unit)
	time.Sleep(300 * time.Millisecond)
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
	if _, err := sd.Conn.ReloadUnitContext(ctx, unit, "replace", ch); err != nil {
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

// TestLiveswapdCrash SIGKILLs the daemon (and, as a twin, SIGINTs it):
// containers keep serving, and one that exits while the daemon is down
// shows its real exit code once the daemon is back.
func TestLiveswapdCrash(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(unixSignalName(sig), func(t *testing.T) {
			requireLiveswapd(t)
			sd := testbed.StartSystemd(t)
			l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
			web := testbed.RunNginx(t, l.Host, "host")
			testbed.DockerCLI(t, l.Host, "run", "-d", "--name", "exiter", "host", "sh", "-c", "sleep 2; exit 42")
			before := testbed.Inspect(t, l.Host, web.Name)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p, err := probe.Start(ctx, web.Spec(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			pid := sd.MainPID(t, l.Unit)
			if err := syscall.Kill(pid, sig); err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid)
			time.Sleep(3 * time.Second) // "exiter" ends while the daemon is down
			sd.StartUnit(t, l.Unit)
			time.Sleep(300 * time.Millisecond)
			stats := p.Stop()

			after := testbed.Inspect(t, l.Host, web.Name)
			if !after.Running || after.Pid != before.Pid || after.StartedAt != before.StartedAt || after.RestartCount != before.RestartCount {
				t.Errorf("nginx was interrupted: before %+v, after %+v", before, after)
			}
			if stats.Sent == 0 || stats.Failed != 0 {
				t.Errorf("nginx: %d of %d probes failed while the daemon was down (first: %s)", stats.Failed, stats.Sent, stats.FirstFailure)
			}
			ex := testbed.Inspect(t, l.Host, "exiter")
			if ex.Running || ex.Status != "exited" || ex.ExitCode != 42 {
				t.Errorf("exiter after restart: %+v, want exited with code 42\ndaemon log:\n%s", ex, l.Log())
			}
			t.Logf("nginx pid %d kept; probes %d sent, %d failed, max gap %.1f ms; exiter exit code %d",
				after.Pid, stats.Sent, stats.Failed, stats.MaxGapMS(), ex.ExitCode)
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
	deadline := time.Now().Add(10 * time.Second)
	for procfs.Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveswapdLogsWhileDown stops the daemon while a container writes
// 10 MB to stdout: the shim, not the daemon, drains the output, so the
// container finishes while the daemon is down and its output is all in
// `docker logs` afterwards.
func TestLiveswapdLogsWhileDown(t *testing.T) {
	requireLiveswapd(t)
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
	const lines, width = 10240, 1024 // 10 MiB with the newlines
	script := fmt.Sprintf(`sleep 1; i=0; line=$(head -c %d /dev/zero | tr '\0' x); while [ $i -lt %d ]; do echo "$line"; i=$((i+1)); done; echo END-OF-OUTPUT`, width-1, lines)
	testbed.DockerCLI(t, l.Host, "run", "-d", "--name", "chatty", "host", "sh", "-c", script)
	st := testbed.Inspect(t, l.Host, "chatty")

	sd.StopUnit(t, l.Unit)
	if !procfs.Alive(st.Pid) {
		t.Fatal("the container died with the daemon")
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

// TestLiveswapdScopesUnderBurst starts a dozen containers at once under a
// KillMode=control-group unit: every shim must land in its own scope (moves
// in flight share one D-Bus connection), so a restart of the unit kills none.
func TestLiveswapdScopesUnderBurst(t *testing.T) {
	requireLiveswapd(t)
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, KillMode: "control-group"})
	const n = 12
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if out, err := testbed.Docker(l.Host, "run", "-d", "--name", fmt.Sprintf("burst-%02d", i), "host", "/bin/sleep", "600"); err != nil {
				t.Errorf("%v\n%s", err, out)
			}
		}(i)
	}
	wg.Wait()
	before := map[string]int{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("burst-%02d", i)
		st := testbed.Inspect(t, l.Host, name)
		if shim, cg := shimCgroup(t, st.Pid); !strings.Contains(cg, ".scope") {
			t.Errorf("%s: shim %d left in the daemon's cgroup: %s", name, shim, cg)
		}
		before[name] = st.Pid
	}
	sd.RestartUnit(t, l.Unit)
	for name, pid := range before {
		if st := testbed.Inspect(t, l.Host, name); !st.Running || st.Pid != pid {
			t.Errorf("%s: pid %d -> %d, running %v after the restart", name, pid, st.Pid, st.Running)
		}
	}
	if strings.Contains(l.Log(), "shim left in the daemon's cgroup") {
		t.Errorf("the daemon logged a failed scope move:\n%s", l.Log())
	}
}
