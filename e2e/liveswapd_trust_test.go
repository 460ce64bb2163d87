package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
		"allow-host-image": true, // these tests run the host's nginx, redis and sleep
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
// executes the real liveswapd-shim), the daemon gives it the go-ahead, and the test
// SIGKILLs the daemon, starts it again, asks it to start the container
// again, and only then lets the first shim go on. The container must run
// exactly once, as /proc sees it, and the daemon must report that one
// process.
func TestLiveswapdShimStartRace(t *testing.T) {
	requireLiveswapd(t)
	hold := testbed.ShortDir(t, "lsh-")
	bin := testbed.Build(t, "liveswapd", testbed.LiveswapdVersion)
	wrapper := filepath.Join(hold, "shim-wrapper")
	shimBin := filepath.Join(filepath.Dir(bin), runtime.ShimName)
	script := fmt.Sprintf("#!/bin/sh\nif [ ! -e %[1]s/stopped ]; then : > %[1]s/stopped; kill -STOP $$; fi\nexec %[2]s \"$@\"\n", hold, shimBin)
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

// vmHWM returns a process's peak resident memory (VmHWM) in KiB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := procfs.ReadFile(pid, "status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// rawRequest sends head, then body from a goroutine (the server may answer
// and close before it is all sent), and reads the response.
func rawRequest(t *testing.T, sock, head string, body func(net.Conn)) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	go body(conn)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp, string(b)
}

// TestLiveswapdAPILimits sends a 150 MB create request, declared and
// chunked: each gets 413 with a JSON message naming the limit, no
// container is made, and the daemon's peak memory (VmHWM, read by the
// test from /proc) grows by less than 64 MiB. Then 200 connections stall,
// half in their headers and half in their body: the server closes all of
// them within its read timeout (2 s here, api-read-timeout), those in a
// body with a 408, while an events stream opened before them still
// delivers an event after the timeout has passed several times.
func TestLiveswapdAPILimits(t *testing.T) {
	t.Run("150 MB body", testBodyLimit)
	t.Run("stalled connections", testStalledConnections)
}

func testBodyLimit(t *testing.T) {
	d := startProcDaemon(t, true, nil)
	pid := d.cmd.Process.Pid
	before := vmHWM(t, pid)
	const size = 150 << 20
	prefix := `{"Image":"host","Cmd":["true"],"Labels":{"x":"`
	send := func(conn net.Conn, chunked bool) {
		w := bufio.NewWriterSize(conn, 1<<20)
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		write := func(b []byte) error {
			if chunked {
				fmt.Fprintf(w, "%x\r\n", len(b))
			}
			_, err := w.Write(b)
			if chunked {
				w.WriteString("\r\n")
			}
			return err
		}
		write([]byte(prefix))
		for n := len(prefix); n < size-3; n += len(chunk) {
			if write(chunk) != nil || w.Flush() != nil {
				return // the server answered and closed: expected
			}
		}
		write([]byte(`"}}`))
		if chunked {
			w.WriteString("0\r\n\r\n")
		}
		w.Flush()
	}
	for _, chunked := range []bool{false, true} {
		head := "POST /v1.41/containers/create?name=huge HTTP/1.1\r\nHost: lsd\r\nContent-Type: application/json\r\n"
		if chunked {
			head += "Transfer-Encoding: chunked\r\n\r\n"
		} else {
			head += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
		}
		resp, body := rawRequest(t, d.sock, head, func(c net.Conn) { send(c, chunked) })
		var msg struct{ Message string }
		json.Unmarshal([]byte(body), &msg)
		t.Logf("150 MB body (chunked %v): %d %s", chunked, resp.StatusCode, strings.TrimSpace(body))
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(msg.Message, "1 MiB") {
			t.Errorf("150 MB body (chunked %v): %d %q, want 413 naming the 1 MiB limit", chunked, resp.StatusCode, body)
		}
	}
	if out := strings.TrimSpace(testbed.DockerCLI(t, d.host, "ps", "-aq")); out != "" {
		t.Errorf("a container was created from a refused body: %s", out)
	}
	after := vmHWM(t, pid)
	t.Logf("daemon VmHWM %d KiB before, %d KiB after (+%d KiB)", before, after, after-before)
	if after-before > 64<<10 {
		t.Errorf("the daemon's peak memory grew by %d KiB, want < 64 MiB", after-before)
	}

}

func testStalledConnections(t *testing.T) {
	const readTimeout = 2
	d := startProcDaemon(t, true, map[string]any{"api-read-timeout": readTimeout})
	// An events stream opened first must outlive the read timeout.
	events, err := net.Dial("unix", d.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	fmt.Fprintf(events, "GET /v1.41/events HTTP/1.1\r\nHost: lsd\r\n\r\n")
	eventsBody := bufio.NewReader(events)
	if resp, err := http.ReadResponse(eventsBody, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %v %v", resp, err)
	}

	const stalled = 200
	type result struct {
		inBody bool
		status string
		after  time.Duration
	}
	results := make(chan result, stalled)
	begin := time.Now()
	for i := 0; i < stalled; i++ {
		inBody := i%2 == 0
		go func() {
			conn, err := net.Dial("unix", d.sock)
			if err != nil {
				results <- result{inBody, "dial: " + err.Error(), 0}
				return
			}
			defer conn.Close()
			if inBody {
				fmt.Fprintf(conn, "POST /v1.41/containers/create HTTP/1.1\r\nHost: lsd\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"Image\":")
			} else {
				fmt.Fprintf(conn, "POST /v1.41/containers/create HTTP/1.1\r\nHost: lsd\r\nContent-Ty")
			}
			// The test's own bound, far past the server's.
			conn.SetReadDeadline(time.Now().Add(10 * readTimeout * time.Second))
			b, err := io.ReadAll(conn)
			status := "closed"
			if len(b) > 0 {
				status = strings.SplitN(string(b), "\r\n", 2)[0]
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				status = "still open"
			}
			results <- result{inBody, status, time.Since(begin)}
		}()
	}
	counts := map[string]int{}
	var latest time.Duration
	for i := 0; i < stalled; i++ {
		r := <-results
		key := fmt.Sprintf("in body %v: %s", r.inBody, r.status)
		counts[key]++
		latest = max(latest, r.after)
		if r.status == "still open" || r.inBody && !strings.Contains(r.status, "408") {
			t.Errorf("stalled connection (in body %v): %s after %v", r.inBody, r.status, r.after)
		}
	}
	t.Logf("%d stalled connections: %v; the last one closed %v after they stalled (read timeout %d s)", stalled, counts, latest.Round(time.Millisecond), readTimeout)
	if latest > (readTimeout+3)*time.Second {
		t.Errorf("the server took %v to close the stalled connections, want about %d s", latest, readTimeout)
	}
	// The stream still works: a create shows up on it.
	testbed.DockerCLI(t, d.host, "create", "--name", "after-the-stall", "host", "true")
	events.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := eventsBody.ReadString('}')
	if err != nil || !strings.Contains(line, "create") {
		t.Errorf("the events stream opened %v ago gave %q, %v; want the create event", time.Since(begin).Round(time.Millisecond), line, err)
	}
}

// TestLiveswapdLogOptions runs containers with the docker CLI: with
// --log-opt max-size=1k --log-opt max-file=3, 1 MB of output leaves at
// most three small files on disk and `docker logs` returns the last lines
// in order; --log-driver syslog is refused naming the driver and creates
// nothing; --log-driver none keeps no log and `docker logs` says so.
func TestLiveswapdLogOptions(t *testing.T) {
	d := startProcDaemon(t, true, nil)
	const lines = 10000 // "line NNNNN" ~100 bytes per record, ~1 MB of records
	testbed.DockerCLI(t, d.host, "run", "-d", "--name", "rotated", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
		"host", "sh", "-c", fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "line $i"; i=$((i+1)); done`, lines))
	testbed.WaitUntil(t, "the writer to finish", 60*time.Second, func() bool { return !testbed.Inspect(t, d.host, "rotated").Running })
	id := testbed.Inspect(t, d.host, "rotated").ID
	files, _ := filepath.Glob(filepath.Join(d.dir, "data", "containers", id, id+"-json.log*"))
	total := int64(0)
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	t.Logf("log files on disk: %d, %d bytes in all", len(files), total)
	if len(files) > 3 || total > 3*1024 {
		t.Errorf("log files: %v, %d bytes; want at most 3 files of 1 KiB", files, total)
	}
	out := testbed.DockerCLI(t, d.host, "logs", "rotated")
	got := strings.Split(strings.TrimSpace(out), "\n")
	last := 0
	for i, l := range got {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		if err != nil || i > 0 && n != last+1 {
			t.Fatalf("docker logs is not the tail in order at %q (after line %d):\n%s", l, last, out)
		}
		last = n
	}
	t.Logf("docker logs: %d lines, %s .. %s", len(got), got[0], got[len(got)-1])
	if last != lines {
		t.Errorf("docker logs ends at line %d, want %d", last, lines)
	}
	if tail := strings.TrimSpace(testbed.DockerCLI(t, d.host, "logs", "--tail", "2", "rotated")); tail != fmt.Sprintf("line %d\nline %d", lines-1, lines) {
		t.Errorf("docker logs --tail 2: %q", tail)
	}

	out, err := testbed.Docker(d.host, "run", "-d", "--name", "to-syslog", "--log-driver", "syslog", "host", "true")
	t.Logf("--log-driver syslog: %v: %s", err, strings.TrimSpace(out))
	if err == nil || !strings.Contains(out, `log driver "syslog" is not supported`) || !strings.Contains(out, "json-file") {
		t.Errorf("--log-driver syslog: %v\n%s", err, out)
	}
	if out := testbed.DockerCLI(t, d.host, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(out, "to-syslog") {
		t.Errorf("a refused container was created: %s", out)
	}

	testbed.DockerCLI(t, d.host, "run", "-d", "--name", "silent", "--log-driver", "none", "host", "sh", "-c", "echo hidden")
	testbed.WaitUntil(t, "silent to end", 10*time.Second, func() bool { return !testbed.Inspect(t, d.host, "silent").Running })
	out, err = testbed.Docker(d.host, "logs", "silent")
	t.Logf("docker logs of a none container: %v: %s", err, strings.TrimSpace(out))
	if err == nil || !strings.Contains(out, "does not support reading") {
		t.Errorf("docker logs with log driver none: %v\n%s", err, out)
	}
	sid := testbed.Inspect(t, d.host, "silent").ID
	if files, _ := filepath.Glob(filepath.Join(d.dir, "data", "containers", sid, "*-json.log*")); len(files) > 0 {
		t.Errorf("log driver none wrote %v", files)
	}
}
