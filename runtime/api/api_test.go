package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime"
	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/shim"
)

// TestMain lets the test binary act as liveswapd-shim: the daemon under
// test re-executes /proc/self/exe, which it names liveswapd-shim.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == runtime.ShimName {
		os.Exit(shim.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

type testDaemon struct {
	d    *runtime.Daemon
	cli  *client.Client
	srv  *http.Server
	sock string
	cfg  config.Config
}

// startTestDaemon runs a runtime.Daemon in-process on a unix socket in dir.
func startTestDaemon(t *testing.T, dir string, liveRestore bool) *testDaemon {
	t.Helper()
	cfg := config.DefaultConfig()
	cfg.LiveRestore = liveRestore
	cfg.DataRoot = filepath.Join(dir, "data")
	cfg.ExecRoot = filepath.Join(dir, "exec")
	cfg.ShutdownTimeout = 2
	cfg.AllowHostImage = true // the tests run the host's binaries
	sock := filepath.Join(dir, "api.sock")
	cfg.Hosts = []string{"unix://" + sock}
	d, err := runtime.NewDaemon(cfg, runtime.Options{Version: "9.9.9-test", ShimBinary: "/proc/self/exe", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(d)}
	go srv.Serve(l)
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	td := &testDaemon{d: d, cli: cli, srv: srv, sock: sock, cfg: cfg}
	t.Cleanup(td.stop)
	return td
}

func (td *testDaemon) stop() {
	if td.srv == nil {
		return
	}
	td.cli.Close()
	td.srv.Close()
	td.d.Shutdown(context.Background())
	td.d.Close()
	td.srv = nil
}

func testDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/tmp", "lsdt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// killAll stops every container of td at the end of a test, even a failed one.
func killAll(t *testing.T, td *testDaemon) {
	t.Cleanup(func() {
		for _, c := range td.d.List() {
			td.d.Remove(context.Background(), c, true)
		}
	})
}

func runHost(t *testing.T, td *testDaemon, name string, hc *container.HostConfig, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	resp, err := td.cli.ContainerCreate(ctx, &container.Config{Image: "host", Cmd: cmd, Labels: map[string]string{"app": name}}, hc, nil, nil, name)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if err := td.cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return resp.ID
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAPIWithSDK(t *testing.T) {
	td := startTestDaemon(t, testDir(t), true)
	killAll(t, td)
	ctx := context.Background()

	ping, err := td.cli.Ping(ctx)
	if err != nil || ping.APIVersion != APIVersion || ping.OSType != "linux" {
		t.Fatalf("ping = %+v, %v", ping, err)
	}
	td.cli.NegotiateAPIVersion(ctx)
	if v := td.cli.ClientVersion(); v != APIVersion {
		t.Errorf("negotiated API version %s, want %s", v, APIVersion)
	}
	ver, err := td.cli.ServerVersion(ctx)
	if err != nil || ver.Version != "9.9.9-test" || ver.APIVersion != APIVersion {
		t.Errorf("version = %+v, %v", ver, err)
	}

	id := runHost(t, td, "web", nil, "sh", "-c", "echo out-line; echo err-line >&2; exec sleep 60")
	runHost(t, td, "other", nil, "sleep", "60")
	info, err := td.cli.Info(ctx)
	if err != nil || !info.LiveRestoreEnabled || info.ContainersRunning != 2 || info.ServerVersion != "9.9.9-test" {
		t.Errorf("info: live-restore %v running %d version %q err %v", info.LiveRestoreEnabled, info.ContainersRunning, info.ServerVersion, err)
	}

	for _, tt := range []struct {
		name string
		f    filters.Args
		want int
	}{
		{"name", filters.NewArgs(filters.Arg("name", "web")), 1},
		{"id prefix", filters.NewArgs(filters.Arg("id", id[:10])), 1},
		{"label", filters.NewArgs(filters.Arg("label", "app=other")), 1},
		{"status running", filters.NewArgs(filters.Arg("status", "running")), 2},
		{"status exited", filters.NewArgs(filters.Arg("status", "exited")), 0},
	} {
		list, err := td.cli.ContainerList(ctx, container.ListOptions{Filters: tt.f})
		if err != nil || len(list) != tt.want {
			t.Errorf("ps filter %s: %d containers, %v; want %d", tt.name, len(list), err, tt.want)
		}
	}

	ins, err := td.cli.ContainerInspect(ctx, "web")
	if err != nil || !ins.State.Running || ins.State.Pid == 0 || ins.Name != "/web" || ins.ID != id {
		t.Fatalf("inspect = %+v, %v", ins.ContainerJSONBase, err)
	}
	waitFor(t, "log lines", func() bool {
		rc, err := td.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			return false
		}
		defer rc.Close()
		var out, errb bytes.Buffer
		stdcopy.StdCopy(&out, &errb, rc)
		return out.String() == "out-line\n" && errb.String() == "err-line\n"
	})

	top, err := td.cli.ContainerTop(ctx, id, nil)
	if err != nil || len(top.Processes) == 0 {
		t.Errorf("top = %+v, %v", top, err)
	}

	waitC, errC := td.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	timeout := 5
	if err := td.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-waitC:
		if r.StatusCode != 143 {
			t.Errorf("wait status %d, want 143 (SIGTERM)", r.StatusCode)
		}
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return")
	}
	ins, _ = td.cli.ContainerInspect(ctx, id)
	if ins.State.Running || ins.State.ExitCode != 143 || ins.State.Status != "exited" {
		t.Errorf("after stop: %+v", ins.State)
	}
	if err := td.cli.ContainerRemove(ctx, "other", container.RemoveOptions{}); err == nil || !strings.Contains(err.Error(), "cannot remove a running container") {
		t.Errorf("rm of a running container: %v", err)
	}
	if err := td.cli.ContainerRemove(ctx, "other", container.RemoveOptions{Force: true}); err != nil {
		t.Error(err)
	}
	if err := td.cli.ContainerRemove(ctx, id, container.RemoveOptions{}); err != nil {
		t.Error(err)
	}
	if _, err := td.cli.ContainerInspect(ctx, id); !errors.Is(err, errNotFoundSDK(err)) || err == nil {
		t.Errorf("inspect after rm: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(td.cfg.DataRoot, "containers")); len(ents) != 0 {
		t.Errorf("container folders left after rm: %v", ents)
	}
}

func errNotFoundSDK(err error) error {
	if err != nil && strings.Contains(err.Error(), "No such container") {
		return err
	}
	return errors.New("not a not-found error")
}

func TestAPIRefusals(t *testing.T) {
	td := startTestDaemon(t, testDir(t), true)
	killAll(t, td)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		cfg  container.Config
		hc   container.HostConfig
		msg  string
	}{
		{"registry image", container.Config{Image: "nginx:latest", Cmd: []string{"nginx"}}, container.HostConfig{}, `No such image: nginx:latest`},
		{"missing rootfs", container.Config{Image: "/nonexistent/rootfs", Cmd: []string{"x"}}, container.HostConfig{}, "not a root filesystem folder"},
		{"bridge network", container.Config{Image: "host", Cmd: []string{"true"}}, container.HostConfig{NetworkMode: "bridge"}, `network mode "bridge" is not supported`},
		{"bind elsewhere", container.Config{Image: "host", Cmd: []string{"true"}}, container.HostConfig{Binds: []string{"/srv:/data"}}, "source and destination must be the same path"},
		{"no command", container.Config{Image: "host"}, container.HostConfig{}, "no command specified"},
		{"bad policy", container.Config{Image: "host", Cmd: []string{"true"}}, container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "sometimes"}}, "invalid restart policy"},
	} {
		_, err := td.cli.ContainerCreate(ctx, &tt.cfg, &tt.hc, nil, nil, "")
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.msg)
		}
	}
	// Same-path binds are fine with image host.
	id := runHost(t, td, "bind", &container.HostConfig{Binds: []string{"/tmp:/tmp:ro"}}, "true")
	td.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	// A missing binary is reported by start, with exit code 127.
	resp, err := td.cli.ContainerCreate(ctx, &container.Config{Image: "host", Cmd: []string{"no-such-binary-xyz"}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	err = td.cli.ContainerStart(ctx, resp.ID, container.StartOptions{})
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("start of a missing binary: %v", err)
	}
	ins, _ := td.cli.ContainerInspect(ctx, resp.ID)
	if ins.State.ExitCode != 127 {
		t.Errorf("exit code %d, want 127", ins.State.ExitCode)
	}
	// Unprefixed paths and too-new versions.
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", td.sock)
	}}}
	for path, code := range map[string]int{"/_ping": 200, "/v1.41/_ping": 200, "/v1.24/version": 200, "/v1.99/version": 400, "/v1.12/info": 400, "/containers/json": 200, "/images/json": 200, "/volumes": 200, "/networks": 200, "/plugins": 501, "/v1.41/containers/x/export": 501} {
		r, err := hc.Get("http://liveswapd" + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != code || r.Header.Get("Api-Version") != APIVersion {
			t.Errorf("GET %s: %d (Api-Version %q), want %d", path, r.StatusCode, r.Header.Get("Api-Version"), code)
		}
	}
	// An SDK reads 501 as not implemented, never as a container gone.
	if _, err := td.cli.ContainerExport(ctx, id); !errdefs.IsNotImplemented(err) || errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "/export is not implemented by liveswapd") {
		t.Errorf("ContainerExport: %v, want not implemented naming the route", err)
	}
	if r, err := hc.Head("http://liveswapd/_ping"); err != nil || r.StatusCode != 200 {
		t.Errorf("HEAD /_ping: %v %v", r, err)
	}
}

// TestRestoreAdoptsShims restarts the daemon (in-process) with containers
// running: the next daemon adopts them unchanged and records the exit of
// the one that ended meanwhile.
func TestRestoreAdoptsShims(t *testing.T) {
	dir := testDir(t)
	a := startTestDaemon(t, dir, true)
	ctx := context.Background()
	long := runHost(t, a, "long", nil, "sleep", "60")
	// "short" ends when the test says so: while no daemon runs.
	trigger := filepath.Join(dir, "exit-now")
	short := runHost(t, a, "short", nil, "sh", "-c", "while [ ! -e "+trigger+" ]; do sleep 0.02; done; exit 9")
	before, _ := a.cli.ContainerInspect(ctx, long)
	shortRun := filepath.Join(a.cfg.ExecRoot, "containers", short)
	a.stop()
	if !procfs.Alive(before.State.Pid) {
		t.Fatal("live-restore on: the container died with the daemon")
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The shim writes exit.json last, just before it exits.
	waitFor(t, "short's exit record", func() bool {
		_, err := os.Stat(filepath.Join(shortRun, shim.ExitFile))
		return err == nil
	})

	b := startTestDaemon(t, dir, true)
	killAll(t, b)
	after, err := b.cli.ContainerInspect(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	if after.State.Pid != before.State.Pid || after.State.StartedAt != before.State.StartedAt || after.RestartCount != 0 || !after.State.Running {
		t.Errorf("adopted container changed: before pid %d %s, after pid %d %s restarts %d running %v",
			before.State.Pid, before.State.StartedAt, after.State.Pid, after.State.StartedAt, after.RestartCount, after.State.Running)
	}
	s, _ := b.cli.ContainerInspect(ctx, short)
	if s.State.Running || s.State.ExitCode != 9 {
		t.Errorf("container that ended while down: running %v exit %d, want exit 9", s.State.Running, s.State.ExitCode)
	}
	// The adopted shim is watched: killing the container is noticed.
	if err := b.cli.ContainerKill(ctx, long, "KILL"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "adopted container's exit", func() bool {
		ins, _ := b.cli.ContainerInspect(ctx, long)
		return ins.State.Status == "exited" && ins.State.ExitCode == 137
	})
}

func TestShutdownWithoutLiveRestoreStopsContainers(t *testing.T) {
	td := startTestDaemon(t, testDir(t), false)
	killAll(t, td)
	ctx := context.Background()
	id := runHost(t, td, "victim", nil, "sleep", "60")
	ins, _ := td.cli.ContainerInspect(ctx, id)
	td.d.Shutdown(ctx)
	if procfs.Alive(ins.State.Pid) {
		t.Error("container still running after shutdown with live-restore off")
	}
}

func TestLogsFollowEventsAndRestart(t *testing.T) {
	td := startTestDaemon(t, testDir(t), true)
	killAll(t, td)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	evs, evErr := td.cli.Events(ctx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", "container"))})
	id := runHost(t, td, "ticker", nil, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.2; done; echo bye >&2")
	seen := map[events.Action]bool{}
	for !seen[events.ActionCreate] || !seen[events.ActionStart] {
		select {
		case m := <-evs:
			if m.Actor.ID == id {
				seen[m.Action] = true
			}
		case err := <-evErr:
			t.Fatalf("events: %v", err)
		case <-ctx.Done():
			t.Fatalf("events seen: %v", seen)
		}
	}

	// Follow ends when the container does, with every line in order.
	rc, err := td.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if out.String() != "tick 1\ntick 2\ntick 3\n" || errb.String() != "bye\n" {
		t.Errorf("followed logs: stdout %q stderr %q", out.String(), errb.String())
	}
	rc, err = td.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, Tail: "1", Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	stdcopy.StdCopy(&out, io.Discard, rc)
	rc.Close()
	if !strings.HasSuffix(out.String(), " tick 3\n") || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("tail 1 with timestamps: %q", out.String())
	}

	// docker restart: new process, RestartCount unchanged (not a policy restart).
	long := runHost(t, td, "long", nil, "sleep", "60")
	before, _ := td.cli.ContainerInspect(ctx, long)
	zero := 1
	if err := td.cli.ContainerRestart(ctx, long, container.StopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	after, _ := td.cli.ContainerInspect(ctx, long)
	if !after.State.Running || after.State.Pid == before.State.Pid || after.RestartCount != 0 {
		t.Errorf("restart: pid %d -> %d, running %v, RestartCount %d", before.State.Pid, after.State.Pid, after.State.Running, after.RestartCount)
	}
	if procfs.Alive(before.State.Pid) {
		t.Errorf("old process %d still alive after restart", before.State.Pid)
	}
}

// TestLogsFollowAcrossRotation follows a container whose json-file log
// rotates every few lines (max-size 1k, max-file 2): the follower keeps
// going from one file to the next and sees every line once, in order, and
// the rotated files on disk stay bounded.
func TestLogsFollowAcrossRotation(t *testing.T) {
	td := startTestDaemon(t, testDir(t), true)
	killAll(t, td)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 60 // ~80 bytes a record: a new file every ~12 lines, every ~0.4 s
	hc := &container.HostConfig{LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1k", "max-file": "2"}}}
	id := runHost(t, td, "rotating", hc, "sh", "-c", fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "n $i"; sleep 0.03; i=$((i+1)); done`, n))
	rc, err := td.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	var want strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&want, "n %d\n", i)
	}
	if out.String() != want.String() {
		t.Errorf("followed across rotations:\n%s\nwant every line 1..%d once, in order", out.String(), n)
	}
	c, _ := td.d.Get(id)
	files, _ := filepath.Glob(c.LogPath() + "*")
	if len(files) != 2 {
		t.Errorf("log files %v, want the log and one rotated file", files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 1024 {
			t.Errorf("%s: %v bytes (%v), want at most 1 KiB", f, fi.Size(), err)
		}
	}
}
