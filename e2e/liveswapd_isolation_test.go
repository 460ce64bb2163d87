package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/runtime"
)

// isoScript runs inside a container and reports what it can reach of the
// host: the host process HOSTPID, the host file SECRET, and mount(2).
const isoScript = `echo "pid1=$$"
if [ -e /proc/$HOSTPID ]; then echo sees-host; else echo no-host-proc; fi
if kill -0 $HOSTPID 2>/dev/null; then echo can-signal; else echo cannot-signal; fi
if cat $SECRET >/dev/null 2>&1; then echo reads-secret; else echo no-secret; fi
if [ -n "$TRYMOUNT" ]; then if mount -t tmpfs none /mnt 2>/dev/null; then echo mounted; umount /mnt; else echo mount-refused; fi; fi
echo ready
exec sleep 600`

// TestLiveswapdIsolation runs nginx, redis and probes in root folder
// images through runc on a real liveswapd (the Docker Go SDK as client)
// and shows each isolation claim from inside the container and from /proc
// on the host, each with its negative case; then upgrades liveswapd and
// replaces runc's file under load with the test's own witness.
func TestLiveswapdIsolation(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin, "/usr/sbin/runc")
	ctx := context.Background()
	dir := t.TempDir()
	// runc from a file of the test's, so the test can replace it.
	runcCopy := filepath.Join(dir, "runc")
	copyExecutable(t, "/usr/sbin/runc", runcCopy)
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, Extra: map[string]any{"runc-binary": runcCopy}})
	cli, err := client.NewClientWithOpts(client.WithHost(l.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rootfs := filepath.Join(dir, "rootfs")
	if err := testbed.BuildRootfs(rootfs, "/bin/mount", "/bin/umount", "/usr/bin/head", "/usr/bin/tail"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(rootfs, "mnt"), 0o755)

	run := func(name, image string, hc container.HostConfig, env []string, cmd ...string) string {
		t.Helper()
		if hc.NetworkMode == "" {
			hc.NetworkMode = "host"
		}
		resp, err := cli.ContainerCreate(ctx, &container.Config{Image: image, Cmd: cmd, Env: env}, &hc, nil, nil, name)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if err := cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		return resp.ID
	}

	// nginx and redis, isolated, under the witness for the whole test.
	nginxDir := filepath.Join(dir, "nginx")
	os.MkdirAll(nginxDir, 0o755)
	webPort, kvPort := testbed.FreePort(t), testbed.FreePort(t)
	os.WriteFile(filepath.Join(nginxDir, "nginx.conf"), []byte(testbed.NginxConf(nginxDir, webPort)), 0o644)
	mem := int64(256 << 20)
	web := &testbed.Workload{Name: fmt.Sprintf("iso-web-%04d", rand.IntN(1e4)), Kind: probe.HTTP, Addr: "127.0.0.1:" + strconv.Itoa(webPort)}
	web.ID = run(web.Name, rootfs, container.HostConfig{Binds: []string{nginxDir + ":" + nginxDir}, Resources: container.Resources{Memory: mem}}, nil,
		testbed.NginxBin, "-p", nginxDir, "-e", filepath.Join(nginxDir, "error.log"), "-c", filepath.Join(nginxDir, "nginx.conf"))
	kv := &testbed.Workload{Name: fmt.Sprintf("iso-kv-%04d", rand.IntN(1e4)), Kind: probe.Redis, Addr: "127.0.0.1:" + strconv.Itoa(kvPort)}
	kv.ID = run(kv.Name, rootfs, container.HostConfig{Resources: container.Resources{Memory: mem}}, nil,
		testbed.RedisBin, "--port", strconv.Itoa(kvPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", "/tmp")
	for _, w := range []*testbed.Workload{web, kv} {
		if err := testbed.WaitServing(w, 20*time.Second); err != nil {
			t.Fatalf("%s never served: %v\n%s", w.Name, err, containerLogs(ctx, cli, w.ID))
		}
	}
	witness := testbed.Watch(t, l.Host, web, kv)

	// A host process the containers must neither see nor signal, and a
	// host file they must not read.
	host := exec.Command("/bin/sleep", "600")
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { host.Process.Kill(); host.Wait() }()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("host only\n"), 0o600)
	env := []string{"HOSTPID=" + strconv.Itoa(host.Process.Pid), "SECRET=" + secret}

	// mount(2) is tried only in the isolated container: in the other it
	// would mount on the host.
	iso := run("iso-probe", rootfs, container.HostConfig{}, append(env, "TRYMOUNT=1"), "/bin/sh", "-c", isoScript)
	open := run("unisolated-probe", "host", container.HostConfig{}, env, "/bin/sh", "-c", isoScript)
	isoOut := waitLog(t, ctx, cli, iso, "ready")
	openOut := waitLog(t, ctx, cli, open, "ready")
	t.Logf("inside the isolated container:\n%s", isoOut)
	t.Logf("inside the image host container (allow-host-image):\n%s", openOut)
	for _, w := range []string{"pid1=1", "no-host-proc", "cannot-signal", "no-secret", "mount-refused"} {
		if !strings.Contains(isoOut, w+"\n") {
			t.Errorf("isolated container: no %q in\n%s", w, isoOut)
		}
	}
	for _, w := range []string{"sees-host", "can-signal", "reads-secret"} {
		if !strings.Contains(openOut, w+"\n") {
			t.Errorf("image host container (the negative case): no %q in\n%s", w, openOut)
		}
	}
	if p, _ := procfs.Stat(host.Process.Pid); !p.Exists || p.State == 'Z' {
		t.Errorf("the host process %d did not survive", host.Process.Pid)
	}
	// From the host's /proc: the isolated container has its own PID and
	// mount namespaces, no CAP_SYS_ADMIN, no-new-privileges and seccomp,
	// and its parent is its shim; the image host container shares the
	// host's namespaces.
	isoPid, openPid := inspectPid(t, ctx, cli, iso), inspectPid(t, ctx, cli, open)
	// The daemon's namespaces are the host's here (its systemd manager
	// has a private mount namespace of its own).
	daemonPid := sd.MainPID(t, l.Unit)
	for _, ns := range []string{"pid", "mnt", "ipc", "uts"} {
		self, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", daemonPid, ns))
		in, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", isoPid, ns))
		shared, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", openPid, ns))
		if in == "" || in == self {
			t.Errorf("isolated container pid %d: %s namespace %q is the host's %q", isoPid, ns, in, self)
		}
		if ns != "uts" && shared != self {
			t.Errorf("image host container pid %d: %s namespace %q, want the host's %q", openPid, ns, shared, self)
		}
	}
	status := procStatus(t, isoPid)
	capEff, _ := strconv.ParseUint(status["CapEff"], 16, 64)
	if capEff&(1<<21) != 0 || status["NoNewPrivs"] != "1" || status["Seccomp"] != "2" {
		t.Errorf("isolated container pid %d: CapEff %s (CAP_SYS_ADMIN is bit 21), NoNewPrivs %s, Seccomp %s", isoPid, status["CapEff"], status["NoNewPrivs"], status["Seccomp"])
	}
	if st, _ := procfs.Stat(isoPid); !strings.Contains(strings.Join(procfs.Cmdline(st.PPID), " "), runtime.ShimName+" ") {
		t.Errorf("isolated container pid %d: parent %d is %q, not its shim", isoPid, st.PPID, procfs.Cmdline(st.PPID))
	}
	if openCap := procStatus(t, openPid)["CapEff"]; openCap == status["CapEff"] {
		t.Errorf("the image host container has the isolated one's capabilities %s", openCap)
	}

	// Memory: past --memory the kernel kills (exit 137, OOMKilled); under
	// it the same command completes.
	hog := run("iso-hog", rootfs, container.HostConfig{Resources: container.Resources{Memory: 32 << 20}}, nil, "/usr/bin/tail", "/dev/zero")
	small := run("iso-small", rootfs, container.HostConfig{Resources: container.Resources{Memory: 32 << 20}}, nil, "/bin/sh", "-c", "/usr/bin/head -c 8000000 /dev/zero | /usr/bin/tail -c 1 >/dev/null")
	for _, c := range []struct {
		id   string
		code int
		oom  bool
	}{{hog, 137, true}, {small, 0, false}} {
		st := waitExited(t, ctx, cli, c.id)
		t.Logf("memory 32 MiB, %s: exit %d, OOMKilled %v", strings.Join(st.cmd, " "), st.code, st.oom)
		if st.code != c.code || st.oom != c.oom {
			t.Errorf("%s: exit %d OOMKilled %v, want %d %v", strings.Join(st.cmd, " "), st.code, st.oom, c.code, c.oom)
		}
	}

	// Pids: 30 background sleeps stop at --pids-limit 10; without a limit
	// all 31 processes run.
	// The loop runs in a subshell: a shell whose fork fails gives up.
	forker := `(i=0; while [ $i -lt 30 ]; do /bin/sleep 600 & i=$((i+1)); done); echo forked; exec /bin/sleep 600`
	limit := int64(10)
	bounded := run("iso-forker", rootfs, container.HostConfig{Resources: container.Resources{PidsLimit: &limit}}, nil, "/bin/sh", "-c", forker)
	free := run("iso-forker-free", rootfs, container.HostConfig{}, nil, "/bin/sh", "-c", forker)
	waitLog(t, ctx, cli, bounded, "forked")
	waitLog(t, ctx, cli, free, "forked")
	nb, nf := pidsCurrent(t, bounded), pidsCurrent(t, free)
	t.Logf("pids: %d with --pids-limit 10, %d without", nb, nf)
	if nb > 10 || nf < 31 {
		t.Errorf("pids.current %d with --pids-limit 10 (want <= 10), %d without (want 31)", nb, nf)
	}
	if out := containerLogs(ctx, cli, bounded); !strings.Contains(out, "fork") {
		t.Errorf("the bounded forker logged no failed fork:\n%s", out)
	}
	for _, id := range []string{bounded, free} {
		cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	}

	// No runc process runs beside the containers: replacing runc's file
	// and upgrading liveswapd (restart on a new binary) touch nothing.
	if p := runcProcesses(l.Dir); len(p) > 0 {
		t.Errorf("runc processes alive beside running containers: %v", p)
	}
	copyExecutable(t, "/usr/sbin/runc", runcCopy+".new")
	if err := os.Rename(runcCopy+".new", runcCopy); err != nil {
		t.Fatal(err)
	}
	newBin := testbed.Build(t, "liveswapd", "1.0.1-e2e")
	copyExecutable(t, newBin, l.Bin+".new")
	if err := os.Rename(l.Bin+".new", l.Bin); err != nil {
		t.Fatal(err)
	}
	sd.RestartUnit(t, l.Unit)
	if v := testbed.DockerCLI(t, l.Host, "version", "--format", "{{.Server.Version}}"); strings.TrimSpace(v) != "1.0.1-e2e" {
		t.Errorf("after the upgrade liveswapd is %q", v)
	}
	if p := inspectPid(t, ctx, cli, iso); p != isoPid {
		t.Errorf("isolated probe pid %d after the upgrade, was %d", p, isoPid)
	}
	if got := cgroupValue(web.ID, "memory", "memory.limit_in_bytes"); got != strconv.FormatInt(mem, 10) {
		t.Errorf("nginx memory limit after the upgrade: %q, want %d", got, mem)
	}
	witness.Stop(t)
	witness.RequireUninterrupted(t)

	// Removing a container through the new runc leaves no cgroup and no
	// runc state behind.
	if err := cli.ContainerRemove(ctx, iso, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	testbed.WaitUntil(t, "the removed container's cgroup and runc state to go", 20*time.Second, func() bool {
		_, err := os.Stat("/sys/fs/cgroup/pids/liveswapd/" + iso)
		_, err2 := os.Stat(filepath.Join(l.Dir, "exec", "runc", iso))
		return os.IsNotExist(err) && os.IsNotExist(err2)
	})
}

// TestLiveswapdRefusesUnhonouredFlags shows with the docker CLI that what
// liveswapd does not honour is refused, naming the flag, and nothing is
// created.
func TestLiveswapdRefusesUnhonouredFlags(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin, "/usr/sbin/runc")
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "64m", "host", "true"}, `--memory not supported by liveswapd with image "host"`},
		{[]string{"--read-only", "--pids-limit", "5", "host", "true"}, "--pids-limit, --read-only not supported"},
		{[]string{"--blkio-weight", "10", "host", "true"}, "--blkio-weight not supported"},
		{[]string{"--device", "/dev/null", "host", "true"}, "--device not supported"},
		{[]string{"--dns", "1.1.1.1", "host", "true"}, "--dns not supported"},
		{[]string{"--log-driver", "syslog", "host", "true"}, "syslog"},
	} {
		out, err := testbed.Docker(l.Host, append([]string{"run", "-d"}, tt.args...)...)
		t.Logf("docker run -d %s: %s", strings.Join(tt.args, " "), strings.TrimSpace(out))
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("docker run -d %s: %v %q, want a refusal containing %q", strings.Join(tt.args, " "), err, out, tt.want)
		}
	}
	if out := testbed.DockerCLI(t, l.Host, "ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("refused runs left containers: %q", out)
	}
	info := testbed.DockerCLI(t, l.Host, "info", "--format", "{{json .SecurityOptions}} {{json .Warnings}}")
	t.Logf("docker info: %s", info)
	if !strings.Contains(info, "allow-host-image") {
		t.Errorf("docker info does not name the allow-host-image opt-in: %s", info)
	}
	// Without the opt-in image host is refused.
	l.WriteConfig(t, true) // the testbed's config, which opts in
	cfg, _ := os.ReadFile(l.ConfigPath)
	os.WriteFile(l.ConfigPath, []byte(strings.Replace(string(cfg), `"allow-host-image": true`, `"allow-host-image": false`, 1)), 0o644)
	sd.ReloadUnit(t, l.Unit)
	testbed.WaitUntil(t, "image host to be refused without allow-host-image", 20*time.Second, func() bool {
		out, err := testbed.Docker(l.Host, "run", "-d", "host", "true")
		return err != nil && strings.Contains(out, `"allow-host-image": true`)
	})
	if out := testbed.DockerCLI(t, l.Host, "ps", "-aq"); strings.TrimSpace(out) != "" {
		// The poll may have created one before the reload took effect.
		t.Logf("containers created before the reload: %q", out)
	}
}

type exitState struct {
	code int
	oom  bool
	cmd  []string
}

func waitExited(t *testing.T, ctx context.Context, cli *client.Client, id string) exitState {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	okC, errC := cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-okC:
	case err := <-errC:
		t.Fatalf("waiting for %s: %v", id[:12], err)
	}
	j, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return exitState{code: j.State.ExitCode, oom: j.State.OOMKilled, cmd: append([]string{j.Path}, j.Args...)}
}

func inspectPid(t *testing.T, ctx context.Context, cli *client.Client, id string) int {
	t.Helper()
	j, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return j.State.Pid
}

func containerLogs(ctx context.Context, cli *client.Client, id string) string {
	rc, err := cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return err.Error()
	}
	defer rc.Close()
	var b strings.Builder
	stdcopy.StdCopy(&b, &b, rc)
	return b.String()
}

// waitLog waits until the container's log holds a line want.
func waitLog(t *testing.T, ctx context.Context, cli *client.Client, id, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := containerLogs(ctx, cli, id)
		if strings.Contains(out, want+"\n") {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never logged %q:\n%s", id[:12], want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// cgroupValue reads a file of the container's cgroup (cgroup v1 layout,
// this machine's).
func cgroupValue(id, controller, file string) string {
	b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, "liveswapd", id, file))
	return strings.TrimSpace(string(b))
}

func pidsCurrent(t *testing.T, id string) int {
	t.Helper()
	n, err := strconv.Atoi(cgroupValue(id, "pids", "pids.current"))
	if err != nil {
		t.Fatalf("pids.current of %s: %v", id[:12], err)
	}
	return n
}

// runcProcesses lists live runc processes whose command line names dir
// (its --root): this daemon's, not another test's.
func runcProcesses(dir string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, _ := procfs.Stat(pid); st.Exists && st.Comm == "runc" && strings.Contains(strings.Join(procfs.Cmdline(pid), " "), dir) {
			out = append(out, pid)
		}
	}
	return out
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
