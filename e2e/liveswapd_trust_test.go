package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/runtime"
)

// procDaemon is a liveswapd run directly as the test's child, not under
// systemd, so a test can SIGKILL it at any moment and start it again on
// the same data-root.
type procDaemon struct {
	bin, dir, config, sock, host, log string
	env                               []string
	cmd                               *exec.Cmd
	done                              chan struct{}
}

// startProcDaemon writes daemon.json (cfg's keys added to the test's
// defaults) and starts liveswapd; env is added to its environment. Every
// container is removed and the daemon stopped when the test ends.
func startProcDaemon(t *testing.T, liveRestore bool, cfg map[string]any, env ...string) *procDaemon {
	t.Helper()
	requireLiveswapd(t)
	dir := testbed.ShortDir(t, "lsp-")
	d := &procDaemon{bin: testbed.Build(t, "liveswapd", testbed.LiveswapdVersion), dir: dir,
		config: filepath.Join(dir, "daemon.json"), sock: filepath.Join(dir, "api.sock"), log: filepath.Join(dir, "liveswapd.log"), env: env}
	d.host = "unix://" + d.sock
	full := map[string]any{
		"live-restore": liveRestore, "hosts": []string{d.host},
		"data-root": filepath.Join(dir, "data"), "exec-root": filepath.Join(dir, "exec"),
		"pidfile": filepath.Join(dir, "liveswapd.pid"), "shutdown-timeout": 5,
	}
	for k, v := range cfg {
		full[k] = v
	}
	b, _ := json.MarshalIndent(full, "", "  ")
	if err := os.WriteFile(d.config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd == nil {
			return
		}
		if out, err := testbed.Docker(d.host, "ps", "-aq"); err == nil {
			if ids := strings.Fields(out); len(ids) > 0 {
				testbed.Docker(d.host, append([]string{"rm", "-f"}, ids...)...)
			}
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
			t.Errorf("liveswapd did not stop within 30 s of SIGTERM")
		}
	})
	d.start(t)
	return d
}

// start runs the daemon and waits until it answers /_ping.
func (d *procDaemon) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(d.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(d.bin, "--config-file", d.config)
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	d.cmd, d.done = cmd, done
	hc := unixHTTP(d.sock, time.Second)
	testbed.WaitUntil(t, "liveswapd to answer /_ping", 60*time.Second, func() bool {
		select {
		case <-done:
			t.Fatalf("liveswapd exited at start:\n%s", d.Log())
		default:
		}
		resp, err := hc.Get("http://lsd/_ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// kill SIGKILLs the daemon and waits for it to end.
func (d *procDaemon) kill(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

func (d *procDaemon) Log() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

func (d *procDaemon) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost(d.host), client.WithVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// unixHTTP is an HTTP client for a unix socket.
func unixHTTP(sock string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		},
	}}
}

// markers finds the test's containers in /proc by their command line,
// "/bin/sleep N" with N in [base, base+n): marker N -> pids.
func markers(base, n int) map[int][]int {
	out := map[int][]int{}
	for _, pid := range procfs.PIDs() {
		args := procfs.Cmdline(pid)
		if len(args) != 2 || args[0] != "/bin/sleep" {
			continue
		}
		if m, err := strconv.Atoi(args[1]); err == nil && m >= base && m < base+n {
			if st, _ := procfs.Stat(pid); st.Exists && st.State != 'Z' {
				out[m] = append(out[m], pid)
			}
		}
	}
	return out
}

// pipeQueued returns how many bytes wait in the pipe at pid's fd (FIONREAD
// on the pipe, opened through /proc).
func pipeQueued(pid, fd int) int {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return -1
	}
	defer f.Close()
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ) // FIONREAD
	if err != nil {
		return -1
	}
	return n
}

// TestLiveswapdShimStartRace is the deterministic form of a daemon killed
// while a shim starts: the shim is stopped right after it is executed
// (a wrapper named by LIVESWAPD_SHIM_BINARY stops itself once, then
// executes the real shim), the daemon gives it the go-ahead, and the test
// SIGKILLs the daemon, starts it again, asks it to start the container
// again, and only then lets the first shim go on. The container must run
// exactly once, as /proc sees it, and the daemon must report that one
// process.
func TestLiveswapdShimStartRace(t *testing.T) {
	requireLiveswapd(t)
	hold := testbed.ShortDir(t, "lsh-")
	bin := testbed.Build(t, "liveswapd", testbed.LiveswapdVersion)
	wrapper := filepath.Join(hold, "shim-wrapper")
	script := fmt.Sprintf("#!/bin/sh\nif [ ! -e %[1]s/stopped ]; then : > %[1]s/stopped; kill -STOP $$; fi\nexec %[2]s \"$@\"\n", hold, bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startProcDaemon(t, true, nil, runtime.ShimBinaryEnv+"="+wrapper)
	marker := 3_000_000 + rand.IntN(1_000_000)
	testbed.DockerCLI(t, d.host, "create", "--name", "racer", "host", "/bin/sleep", strconv.Itoa(marker))
	started := make(chan string, 1)
	go func() { out, err := testbed.Docker(d.host, "start", "racer"); started <- fmt.Sprint(err, out) }()

	// The shim: stopped, its run folder under the exec-root, the go-ahead
	// byte waiting in its pipe.
	shim := 0
	testbed.WaitUntil(t, "the stopped shim with its go-ahead queued", 30*time.Second, func() bool {
		for _, pid := range procfs.PIDs() {
			st, _ := procfs.Stat(pid)
			if st.State == 'T' && strings.Contains(strings.Join(procfs.Cmdline(pid), " "), d.dir+"/exec/") && pipeQueued(pid, 3) >= 1 {
				shim = pid
				return true
			}
		}
		return false
	})
	d.kill(t)
	t.Logf("shim %d stopped with its go-ahead queued; daemon SIGKILLed; first start: %s", shim, strings.TrimSpace(<-started))
	d.start(t)
	before := testbed.Inspect(t, d.host, "racer")
	out, err := testbed.Docker(d.host, "start", "racer")
	t.Logf("after the restart: status %q pid %d; docker start again: %v %s", before.Status, before.Pid, err, strings.TrimSpace(out))
	if err := syscall.Kill(shim, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testbed.WaitUntil(t, "the first shim to start the container or end", 10*time.Second, func() bool {
		return len(procfs.Children(shim)) > 0 || !procfs.Alive(shim)
	})
	var st testbed.State
	testbed.WaitUntil(t, "the daemon to report the container's process", 10*time.Second, func() bool {
		st = testbed.Inspect(t, d.host, "racer")
		return !st.Running || st.Pid != 0
	})
	procs := markers(marker, 1)[marker]
	t.Logf("after SIGCONT: /proc shows the container as %v; docker inspect: %s pid %d", procs, st.Status, st.Pid)
	if len(procs) != 1 {
		t.Errorf("the container runs %d times (pids %v), want once\ndaemon log:\n%s", len(procs), procs, d.Log())
	}
	if !st.Running || len(procs) == 0 || st.Pid != procs[0] {
		t.Errorf("docker inspect: running %v pid %d; /proc: %v", st.Running, st.Pid, procs)
	}
	testbed.DockerCLI(t, d.host, "stop", "-t", "1", "racer")
	testbed.WaitUntil(t, "no copy of the container left", 10*time.Second, func() bool { return len(markers(marker, 1)) == 0 })
	if st := testbed.Inspect(t, d.host, "racer"); st.Running || st.Status != "exited" {
		t.Errorf("after stop: %+v", st)
	}
}

// TestLiveswapdLiveRestoreOffAfterCrash SIGKILLs a daemon with nginx and
// redis running and starts it again. With live-restore off it must stop
// them, as dockerd does, instead of adopting them: the test's witness
// sees them interrupted and /proc sees their processes gone. With
// live-restore on, the twin, they are adopted untouched.
func TestLiveswapdLiveRestoreOffAfterCrash(t *testing.T) {
	for _, liveRestore := range []bool{false, true} {
		t.Run(fmt.Sprintf("live-restore=%v", liveRestore), func(t *testing.T) {
			d := startProcDaemon(t, liveRestore, nil)
			web := testbed.RunNginx(t, d.host, "host")
			kv := testbed.RunRedis(t, d.host, "host")
			pids := map[string]int{web.Name: testbed.Inspect(t, d.host, web.Name).Pid, kv.Name: testbed.Inspect(t, d.host, kv.Name).Pid}
			w := testbed.Watch(t, d.host, web, kv)
			w.AwaitProbes(t, 5)
			d.kill(t)
			for name, pid := range pids {
				if !procfs.Alive(pid) {
					t.Fatalf("%s (pid %d) died with the daemon", name, pid)
				}
			}
			d.start(t)
			w.AwaitProbes(t, 5)
			w.Stop(t)
			for name, pid := range pids {
				st := testbed.Inspect(t, d.host, name)
				alive := procfs.Alive(pid)
				t.Logf("%s: pid %d alive %v; docker inspect: %s pid %d", name, pid, alive, st.Status, st.Pid)
				if liveRestore != alive || liveRestore != st.Running || liveRestore && st.Pid != pid {
					t.Errorf("%s after a crash with live-restore %v: process alive %v, inspect %+v", name, liveRestore, alive, st)
				}
			}
			if liveRestore {
				w.RequireUninterrupted(t)
			} else {
				w.RequireInterrupted(t)
			}
		})
	}
}

// TestLiveswapdKillChaos SIGKILLs the daemon at random moments while
// workers create, start, stop and remove containers, over seeded rounds
// (LIVESWAP_CHAOS_SEED replays one), with nginx and redis running under
// the test's witness. After every restart, once the daemon settled, /proc
// must show each container's process at most once, only for a container
// the daemon reports running with that pid (no orphan, no double), and
// nginx and redis must never have been interrupted.
func TestLiveswapdKillChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LIVESWAP_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (LIVESWAP_CHAOS_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	const rounds, workers, maxContainers = 24, 3, 100000
	d := startProcDaemon(t, true, nil)
	web := testbed.RunNginx(t, d.host, "host")
	kv := testbed.RunRedis(t, d.host, "host")
	w := testbed.Watch(t, d.host, web, kv)
	base := 4_000_000 + rng.IntN(1000)*maxContainers
	var next atomic.Int64
	var ops, failed atomic.Int64
	for round := 0; round < rounds; round++ {
		cli := d.client(t)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wseed := rng.Uint64()
			wg.Add(1)
			go func() {
				defer wg.Done()
				chaosWorker(ctx, cli, rand.New(rand.NewPCG(wseed, 2)), base, &next, &ops, &failed)
			}()
		}
		// The kill point: anywhere in the workers' create, start, stop
		// and rm calls.
		time.Sleep(time.Duration(10+rng.IntN(400)) * time.Millisecond)
		d.kill(t)
		cancel()
		wg.Wait()
		d.start(t)
		var problems []string
		deadline := time.Now().Add(20 * time.Second)
		after := d.client(t)
		for {
			problems = chaosProblems(t, after, base, int(next.Load())+1)
			if len(problems) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(problems) > 0 {
			t.Fatalf("round %d (seed %d): after the restart:\n  %s\ndaemon log:\n%s", round, seed, strings.Join(problems, "\n  "), d.Log())
		}
	}
	w.Stop(t)
	cli := d.client(t)
	list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, c := range list {
		if strings.HasPrefix(c.Names[0], "/chaos-") {
			if c.State == "running" {
				running++
			}
			if err := cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}); err != nil {
				t.Errorf("rm -f %s: %v", c.Names[0], err)
			}
		}
	}
	testbed.WaitUntil(t, "no container process left after removing them all", 10*time.Second, func() bool {
		return len(markers(base, int(next.Load())+1)) == 0
	})
	t.Logf("%d rounds, %d containers made, %d API calls (%d cut by the kills); %d containers running at the end, all removed, no process left",
		rounds, next.Load(), ops.Load(), failed.Load(), running)
	w.RequireUninterrupted(t)
}

// chaosWorker creates and starts containers, and stops and removes random
// ones, until ctx ends or the daemon stops answering.
func chaosWorker(ctx context.Context, cli *client.Client, r *rand.Rand, base int, next, ops, failed *atomic.Int64) {
	for ctx.Err() == nil {
		var err error
		ops.Add(1)
		switch op := r.IntN(10); {
		case op < 6:
			k := int(next.Add(1))
			var resp container.CreateResponse
			resp, err = cli.ContainerCreate(ctx, &container.Config{Image: "host", Cmd: []string{"/bin/sleep", strconv.Itoa(base + k)}},
				&container.HostConfig{NetworkMode: "host"}, nil, nil, fmt.Sprintf("chaos-%d", k))
			if err == nil {
				err = cli.ContainerStart(ctx, resp.ID, container.StartOptions{})
			}
		default:
			var list []container.Summary
			list, err = cli.ContainerList(ctx, container.ListOptions{All: true})
			var mine []container.Summary
			for _, c := range list {
				if strings.HasPrefix(c.Names[0], "/chaos-") {
					mine = append(mine, c)
				}
			}
			if err != nil || len(mine) == 0 {
				break
			}
			c := mine[r.IntN(len(mine))]
			if op < 9 {
				err = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			} else {
				zero := 0
				err = cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &zero})
			}
		}
		if err != nil {
			failed.Add(1)
			if client.IsErrConnectionFailed(err) || ctx.Err() != nil {
				return
			}
		}
	}
}

// chaosProblems compares /proc with the daemon's view: every process of a
// test container belongs to a container reported running with that pid,
// none runs twice, and every container reported running has its process.
func chaosProblems(t *testing.T, cli *client.Client, base, n int) []string {
	ctx := context.Background()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return []string{fmt.Sprintf("listing containers: %v", err)}
	}
	byMarker := map[int]container.InspectResponse{}
	var problems []string
	for _, c := range list {
		if !strings.HasPrefix(c.Names[0], "/chaos-") {
			continue
		}
		ins, err := cli.ContainerInspect(ctx, c.ID)
		if err != nil {
			continue // removed meanwhile
		}
		k, _ := strconv.Atoi(strings.TrimPrefix(c.Names[0], "/chaos-"))
		byMarker[base+k] = ins
	}
	procs := markers(base, n)
	for m, pids := range procs {
		if len(pids) > 1 {
			problems = append(problems, fmt.Sprintf("chaos-%d runs %d times: pids %v", m-base, len(pids), pids))
		}
		ins, ok := byMarker[m]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("orphan: pid %v runs chaos-%d, which the daemon does not know", pids, m-base))
		case !ins.State.Running || ins.State.Pid != pids[0]:
			problems = append(problems, fmt.Sprintf("chaos-%d: /proc pid %v, the daemon says %s pid %d", m-base, pids, ins.State.Status, ins.State.Pid))
		}
	}
	var names []int
	for m := range byMarker {
		names = append(names, m)
	}
	sort.Ints(names)
	for _, m := range names {
		if ins := byMarker[m]; ins.State.Running && len(procs[m]) == 0 {
			problems = append(problems, fmt.Sprintf("chaos-%d: reported running (pid %d) but not in /proc", m-base, ins.State.Pid))
		}
	}
	return problems
}
