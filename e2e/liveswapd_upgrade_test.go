package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// TestLiveswapdUpgradeUnderLoad upgrades a liveswapd whose containers use
// what it offers beyond running a process, through `liveswap apply`:
// runc-isolated nginx and redis from a stored image with memory and pids
// limits, a healthchecked container and an exec session open in it. The
// upgrade ends upgraded with the witness seeing no failed probe; the limits
// are the same cgroup values after; the healthcheck goes on (a check run
// by the new daemon, still healthy) and the report carries its status from
// both snapshots; the exec session ends (the client returns, the command is
// gone from the container) while the container keeps its process.
// The twin: a container whose check starts failing between a snapshot and
// `liveswap verify` is named, health healthy -> unhealthy, exit 1.
func TestLiveswapdUpgradeUnderLoad(t *testing.T) {
	requireLiveswapd(t)
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin, "/usr/sbin/runc")
	sd := testbed.StartSystemd(t)
	bin := testbed.Build(t, "liveswapd", testbed.LiveswapdVersion)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, Binary: bin})
	liveswap := testbed.Build(t, "liveswap", "e2e")
	cli := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(testbed.DockerCLI(t, l.Host, args...))
	}
	image := testbed.ImportImage(t, l.Host, t.TempDir())

	// nginx and redis, isolated, with limits.
	const mem, pids = 256 << 20, 64
	limits := []string{"--network", "host", "--memory", strconv.Itoa(mem), "--pids-limit", strconv.Itoa(pids)}
	webDir := t.TempDir()
	os.Chmod(webDir, 0o755)
	webPort, kvPort := testbed.FreePort(t), testbed.FreePort(t)
	if err := os.WriteFile(filepath.Join(webDir, "nginx.conf"), []byte(testbed.NginxConf(webDir, webPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	web := &testbed.Workload{Name: fmt.Sprintf("load-web-%04d", rand.IntN(1e4)), Kind: probe.HTTP, Addr: "127.0.0.1:" + strconv.Itoa(webPort)}
	web.ID = cli(append(append([]string{"run", "-d", "--name", web.Name, "-v", webDir + ":" + webDir}, limits...),
		image, testbed.NginxBin, "-p", webDir, "-e", filepath.Join(webDir, "error.log"), "-c", filepath.Join(webDir, "nginx.conf"))...)
	kv := &testbed.Workload{Name: fmt.Sprintf("load-kv-%04d", rand.IntN(1e4)), Kind: probe.Redis, Addr: "127.0.0.1:" + strconv.Itoa(kvPort)}
	kv.ID = cli(append(append([]string{"run", "-d", "--name", kv.Name}, limits...),
		image, testbed.RedisBin, "--port", strconv.Itoa(kvPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", "/tmp")...)
	for _, w := range []*testbed.Workload{web, kv} {
		if err := testbed.WaitServing(w, 20*time.Second); err != nil {
			logs, _ := testbed.Docker(l.Host, "logs", w.Name)
			t.Fatalf("%s never served: %v\n%s", w.Name, err, logs)
		}
	}
	testbed.FillRedis(t, kv, 100)

	// A healthchecked container: healthy until /tmp/bad exists (the image
	// has no rm: the twin makes the check fail by writing a file).
	hc := cli("run", "-d", "--name", fmt.Sprintf("load-hc-%04d", rand.IntN(1e4)), "--network", "none",
		"--health-cmd", "test ! -f /tmp/bad", "--health-interval", "200ms", "--health-retries", "2",
		image, "/bin/sleep", "600")
	health := func() *container.Health {
		var h *container.Health
		json.Unmarshal([]byte(cli("inspect", "--format", "{{json .State.Health}}", hc)), &h)
		return h
	}
	testbed.WaitUntil(t, "the healthchecked container to be healthy", 30*time.Second, func() bool {
		h := health()
		return h != nil && h.Status == container.Healthy
	})
	hcPid := cli("inspect", "--format", "{{.State.Pid}}", hc)

	// An exec session, open through the upgrade.
	const marker = "/bin/sleep 777"
	var execOut bytes.Buffer
	session := exec.Command(testbed.DockerBin, "-H", l.Host, "exec", hc, "/bin/sleep", "777")
	session.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	session.Stdout, session.Stderr = &execOut, &execOut
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	var sessionErr error
	go func() { sessionErr = session.Wait(); close(ended) }()
	t.Cleanup(func() { session.Process.Kill(); <-ended })
	testbed.WaitUntil(t, "the exec session's command to run in the container", 20*time.Second, func() bool {
		return len(inContainer(hc, marker)) > 0
	})

	dp := &deployment{kind: plan.Liveswapd, host: l.Host, unit: l.Unit, config: l.ConfigPath, image: image,
		current: bin, newFile: testbed.Build(t, "liveswapd", "1.0.1-e2e"), newVersion: "1.0.1-e2e", web: web, kv: kv}
	state := t.TempDir()
	w := testbed.Watch(t, l.Host, web, kv)
	code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", state)
	upgraded := time.Now()
	w.Stop(t)
	t.Logf("liveswap apply exit %d\nstderr:\n%s", code, stderr)
	r := decodeReport(t, stdout)
	if code != 0 || r.Result != upgrade.Upgraded {
		t.Fatalf("exit %d result %q, want 0 upgraded\n%s", code, r.Result, stdout)
	}
	w.RequireUninterrupted(t)
	for _, p := range r.Probes {
		t.Logf("liveswap's probe %s: %d of %d failed", p.Name, p.Failed, p.Sent)
	}
	if v := daemonVersion(t, l.Host); v != dp.newVersion {
		t.Errorf("docker version after the upgrade: %s, want %s", v, dp.newVersion)
	}

	// The report read the healthcheck in both snapshots.
	var hcChange *upgrade.Change
	for i, c := range r.Containers {
		if c.ID == hc {
			hcChange = &r.Containers[i]
		}
		if c.Interrupted {
			t.Errorf("%s interrupted: %s", c.Name, c.Reason)
		}
	}
	if hcChange == nil || hcChange.HealthBefore != container.Healthy || hcChange.HealthAfter != container.Healthy {
		t.Errorf("the report's healthchecked container: %+v, want healthy -> healthy", hcChange)
	}

	// The limits are the same cgroup values under the new daemon.
	for _, id := range []string{web.ID, kv.ID} {
		if got := cgroupValue(id, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(mem) {
			t.Errorf("%s: memory.limit_in_bytes %q after the upgrade, want %d", id[:12], got, mem)
		}
		if got := cgroupValue(id, "pids", "pids.max"); got != strconv.Itoa(pids) {
			t.Errorf("%s: pids.max %q after the upgrade, want %d", id[:12], got, pids)
		}
	}

	// The healthcheck goes on: a check the new daemon started after the
	// upgrade, passing.
	testbed.WaitUntil(t, "a healthcheck run after the upgrade", 30*time.Second, func() bool {
		h := health()
		return h != nil && len(h.Log) > 0 && h.Log[len(h.Log)-1].Start.After(upgraded)
	})
	if h := health(); h.Status != container.Healthy || h.FailingStreak != 0 {
		t.Errorf("health after the upgrade: %s, failing streak %d", h.Status, h.FailingStreak)
	}

	// The exec session ended: its client returned, its command is gone,
	// the container kept its process.
	select {
	case <-ended:
		t.Logf("the exec session's client returned (%v): %q", sessionErr, strings.TrimSpace(execOut.String()))
	case <-time.After(20 * time.Second):
		t.Errorf("the exec session's client still runs 20 s after the upgrade")
	}
	testbed.WaitUntil(t, "the exec session's command to end", 20*time.Second, func() bool {
		return len(inContainer(hc, marker)) == 0
	})
	if p := cli("inspect", "--format", "{{.State.Pid}}", hc); p != hcPid {
		t.Errorf("the healthchecked container's PID %s -> %s", hcPid, p)
	}

	// The twin: the check fails from now on; verify names the container.
	snap := filepath.Join(t.TempDir(), "before.json")
	if code, _, stderr := liveswapCLI(t, liveswap, sd.Env(), "snapshot", "--endpoint", l.Host, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, stderr)
	}
	cli("exec", hc, "/bin/sh", "-c", "echo > /tmp/bad")
	testbed.WaitUntil(t, "the container to turn unhealthy", 30*time.Second, func() bool {
		return health().Status == container.Unhealthy
	})
	code, stdout, stderr = liveswapCLI(t, liveswap, sd.Env(), "verify", "--snapshot", snap, "--output", "json")
	t.Logf("verify after the check began failing: exit %d\n%s%s", code, stdout, stderr)
	var got struct {
		Containers []upgrade.Change `json:"containers"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("verify output is not JSON: %v", err)
	}
	if code != 1 {
		t.Errorf("verify: exit %d, want 1", code)
	}
	for _, c := range got.Containers {
		want := ""
		if c.ID == hc {
			want = "health healthy -> unhealthy"
		}
		if c.Reason != want {
			t.Errorf("verify: %s: reason %q, want %q", c.Name, c.Reason, want)
		}
	}
}

// inContainer lists the processes of the liveswapd container id whose
// command line is cmdline, from its pids cgroup.
func inContainer(id, cmdline string) []int {
	b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids/liveswapd", id, "cgroup.procs"))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Join(strings.Split(strings.TrimRight(string(c), "\x00"), "\x00"), " ") == cmdline {
			out = append(out, pid)
		}
	}
	return out
}
