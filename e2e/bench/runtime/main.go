// Command runtime is a benchmark, not a test: it measures liveswapd's
// restart-to-ready time with 10, 100 and as many live containers as the
// host's task limit allows (up to 1000), beside dockerd 20.10 +
// containerd-shim-runc-v2 measured in the same run, and the footprint per
// container (private memory and threads of the process that holds it)
// of liveswapd's shim, conmon (as podman runs it) and containerd-shim-runc-v2,
// all three running the same container through runc. It prints two tables
// (make bench runs it).
//
//	sudo go run ./e2e/bench/runtime                  # full run
//	sudo go run ./e2e/bench/runtime -n 10,100,700 -dockerd-n 10,100
//
// A container costs the shim's threads plus its own process in tasks (the
// footprint table says how many); "max" in -n is what the pids cgroup
// limit of this process leaves room for, at most 1000.
//
// Everything runs as plain processes under /tmp/lsbench-*, removed at the
// end (containers included). Needs root, /usr/sbin/dockerd and containerd.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

type result struct {
	daemon     string
	n          int
	exited     int             // more containers, already exited
	stop       []time.Duration // SIGTERM -> process gone
	ready      []time.Duration // exec -> _ping answers
	listed     []time.Duration // exec -> every container listed running
	shimRSS    float64         // KiB, average per shim
	shimPSS    float64         // KiB, average per shim
	daemonRSS  float64         // KiB, after the last restart
	shimsCount int
	shimUSS    float64 // KiB, average per shim
	shimThr    float64 // threads, average per shim
}

func main() {
	os.Exit(run())
}

// run is main without os.Exit, so deferred cleanups always run.
func run() int {
	ns := flag.String("n", "10,100,max", "liveswapd container counts (max: as many as the task limit allows, at most 1000)")
	fpN := flag.Int("footprint", 10, "containers per runtime for the footprint table (0: skip it)")
	dns := flag.String("dockerd-n", "10,100", "dockerd container counts (empty: skip dockerd)")
	restarts := flag.Int("restarts", 3, "restarts per count (the median is reported)")
	exited := flag.Int("exited", 0, "liveswapd: also create this many containers that exit at once (restored too, from their exit records)")
	bin := flag.String("liveswapd", "", "liveswapd binary, with liveswapd-shim beside it (default: build both)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (dockerd; shims run containers as root); run with sudo")
		return 2
	}
	if *bin == "" {
		dir, err := os.MkdirTemp("", "lsbench-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "liveswapd")
		// liveswapd runs the liveswapd-shim beside it, built as make builds it.
		for _, b := range [][]string{
			{"-ldflags", "-X main.version=bench", "-o", *bin, "./cmd/liveswapd"},
			{"-trimpath", "-ldflags", "-s -w -X main.version=bench", "-o", filepath.Join(dir, "liveswapd-shim"), "./cmd/liveswapd-shim"},
		} {
			out, err := exec.Command("go", append([]string{"build"}, b...)...).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: building %s: %v\n%s", b[len(b)-1], err, out)
				return 1
			}
		}
	}
	var fps []footprint
	cost := 6 // tasks per container before the footprint is measured
	if *fpN > 0 {
		dir, err := os.MkdirTemp("/tmp", "lsbench-rootfs-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := sleepRootfs(dir); err != nil {
			fmt.Fprintln(os.Stderr, "bench: root folder:", err)
			return 1
		}
		lsd, err := footprintLiveswapd(*bin, dir, *fpN)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: liveswapd footprint:", err)
			return 1
		}
		cm, err := footprintConmon(dir, *fpN)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: conmon footprint:", err)
			return 1
		}
		fps = append(fps, lsd, cm)
		cost = int(lsd.threads+0.999) + 1
	}
	limit, used := taskLimit()
	maxN := 1000
	if limit > 0 {
		// 300 tasks of headroom for the daemon, runc runs and the bench.
		maxN = min(maxN, (limit-used-300)/cost)
	}
	lsdCounts, dockerdCounts := counts(*ns, maxN), counts(*dns, maxN)
	var results []result
	for _, n := range lsdCounts {
		r, err := benchLiveswapd(*bin, n, *exited, *restarts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: liveswapd n=%d: %v\n", n, err)
			return 1
		}
		results = append(results, r)
	}
	for _, n := range dockerdCounts {
		r, err := benchDockerd(n, *restarts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: dockerd n=%d: %v\n", n, err)
			return 1
		}
		results = append(results, r)
	}
	fmt.Println()
	fmt.Println("| daemon | containers | stop (SIGTERM->exit) | start->ready (_ping) | start->all listed | shim RSS | shim PSS | daemon RSS |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		n := strconv.Itoa(r.n)
		if r.exited > 0 {
			n = fmt.Sprintf("%d live + %d exited", r.n, r.exited)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %.1f MiB | %.1f MiB | %.1f MiB |\n", r.daemon, n,
			ms(median(r.stop)), ms(median(r.ready)), ms(median(r.listed)), r.shimRSS/1024, r.shimPSS/1024, r.daemonRSS/1024)
	}
	fmt.Printf("\nmedian of %d restarts; RSS/PSS averaged over all shims (liveswapd shim vs containerd-shim-runc-v2); machine: %d CPUs\n", *restarts, runtimeNumCPU())
	if limit > 0 {
		fmt.Printf("task limit (pids cgroup of this process): %d, %d in use at the start; a liveswapd container costs %d tasks (shim threads + its process): at most %d containers\n", limit, used, cost, maxN)
	}
	if len(fps) > 0 {
		for _, r := range results {
			if r.daemon != "liveswapd" && r.shimsCount > 0 {
				fps = append(fps, footprint{runtime: "containerd-shim-runc-v2 (dockerd)", n: r.shimsCount, uss: r.shimUSS, threads: r.shimThr})
				break
			}
		}
		printFootprint(fps)
	}
	return 0
}

// printFootprint prints the per-container table and whether the goal
// (liveswapd's shim at most 2x conmon's private memory and below
// containerd-shim's) is met.
func printFootprint(fps []footprint) {
	fmt.Println()
	fmt.Println("| per-container process | containers | private memory (USS) | threads | USS / conmon |")
	fmt.Println("|---|---:|---:|---:|---:|")
	conmon := fps[1].uss
	for _, f := range fps {
		fmt.Printf("| %s | %d | %.2f MiB | %.1f | %.2fx |\n", f.runtime, f.n, f.uss/1024, f.threads, f.uss/conmon)
	}
	lsd := fps[0].uss
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Printf("\ngoal: liveswapd shim <= 2x conmon's private memory: %s (%.2fx)", verdict(lsd <= 2*conmon), lsd/conmon)
	if len(fps) > 2 {
		fmt.Printf("; below containerd-shim-runc-v2's: %s (%.2fx)\n", verdict(lsd < fps[2].uss), lsd/fps[2].uss)
	} else {
		fmt.Println("; containerd-shim-runc-v2 not measured (-dockerd-n empty)")
	}
	fmt.Println("USS = Private_Clean + Private_Dirty of /proc/PID/smaps_rollup, averaged; every runtime runs `sleep infinity` through runc from the same files (/bin/sleep and its libraries)")
}

func counts(s string, max int) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if f == "max" {
			out = append(out, max)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: bad count %q\n", f)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func runtimeNumCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// daemonProc is a daemon started as a plain process in its own session.
type daemonProc struct {
	argv []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *daemonProc) start() error {
	logf, err := os.OpenFile(p.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	p.cmd = exec.Command(p.argv[0], p.argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.done) }()
	return nil
}

func (p *daemonProc) stop(timeout time.Duration) time.Duration {
	t0 := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
	}
	return time.Since(t0)
}

// waitPing polls _ping every millisecond until it answers 200.
func waitPing(sock string, timeout time.Duration) error {
	hc := http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", sock)
	}}}
	deadline := time.Now().Add(timeout)
	for {
		r, err := hc.Get("http://d/_ping")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no _ping answer on %s within %v (%v)", sock, timeout, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitListed(cli *client.Client, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		list, err := cli.ContainerList(context.Background(), container.ListOptions{})
		if err == nil && len(list) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d containers listed running within %v (%v)", len(list), n, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// parallel runs f(i) for i < n with w workers and returns the first error.
func parallel(n, w int, f func(i int) error) error {
	var mu sync.Mutex
	var first error
	next := make(chan int)
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func runContainers(cli *client.Client, n int, img string, net container.NetworkMode) error {
	return parallel(n, 8, func(i int) error {
		ctx := context.Background()
		resp, err := cli.ContainerCreate(ctx, &container.Config{Image: img, Cmd: []string{"sleep", "infinity"}}, &container.HostConfig{NetworkMode: net}, nil, nil, fmt.Sprintf("bench-%04d", i))
		if err != nil {
			return err
		}
		return cli.ContainerStart(ctx, resp.ID, container.StartOptions{})
	})
}

func removeContainers(cli *client.Client) {
	list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true})
	if err != nil {
		return
	}
	parallel(len(list), 8, func(i int) error {
		return cli.ContainerRemove(context.Background(), list[i].ID, container.RemoveOptions{Force: true})
	})
}

// memOf returns Rss and Pss (KiB) of pid from smaps_rollup.
func memOf(pid int) (rss, pss float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	return
}

// shimMem averages memory over the given shim pids.
func shimMem(pids []int) (rss, pss float64) {
	for _, p := range pids {
		r, s := memOf(p)
		rss += r
		pss += s
	}
	if len(pids) > 0 {
		rss /= float64(len(pids))
		pss /= float64(len(pids))
	}
	return
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

// unmountUnder detaches what dockerd mounted under dir (its data-root bind
// mount, the netns folder), deepest first, so the folder can be removed.
func unmountUnder(dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// killTiedTo kills what is left of a run: processes naming dir and their
// descendants.
func killTiedTo(dir string) {
	for round := 0; round < 3; round++ {
		parents := map[int]int{}
		hit := map[int]bool{}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			parents[pid] = parentOf(pid)
			b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if strings.Contains(string(b), dir) {
				hit[pid] = true
			}
		}
		for changed := true; changed; {
			changed = false
			for pid, ppid := range parents {
				if !hit[pid] && hit[ppid] {
					hit[pid], changed = true, true
				}
			}
		}
		if len(hit) == 0 {
			return
		}
		for pid := range hit {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func benchLiveswapd(bin string, n, exited, restarts int) (result, error) {
	r := result{daemon: "liveswapd", n: n, exited: exited}
	l, err := startLiveswapd(bin, true)
	if err != nil {
		return r, err
	}
	defer l.close()
	cli, p, sock := l.cli, l.p, l.sock
	t0 := time.Now()
	if err := runContainers(cli, n, "host", "host"); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "liveswapd: %d containers started in %v\n", n, time.Since(t0).Round(time.Millisecond))
	if err := parallel(exited, 8, func(i int) error {
		ctx := context.Background()
		resp, err := cli.ContainerCreate(ctx, &container.Config{Image: "host", Cmd: []string{"true"}}, nil, nil, nil, fmt.Sprintf("bench-exited-%04d", i))
		if err != nil {
			return err
		}
		return cli.ContainerStart(ctx, resp.ID, container.StartOptions{})
	}); err != nil {
		return r, err
	}
	shims, err := shimsOf(cli)
	if err != nil {
		return r, err
	}
	r.shimsCount = len(shims)
	r.shimRSS, r.shimPSS = shimMem(shims)
	for i := 0; i < restarts; i++ {
		r.stop = append(r.stop, p.stop(30*time.Second))
		t0 := time.Now()
		if err := p.start(); err != nil {
			return r, err
		}
		if err := waitPing(sock, 60*time.Second); err != nil {
			return r, err
		}
		r.ready = append(r.ready, time.Since(t0))
		if err := waitListed(cli, n, 60*time.Second); err != nil {
			return r, err
		}
		r.listed = append(r.listed, time.Since(t0))
		fmt.Fprintf(os.Stderr, "liveswapd n=%d restart %d: ready %v, listed %v\n", n, i+1, r.ready[i].Round(time.Microsecond), r.listed[i].Round(time.Microsecond))
	}
	r.daemonRSS, _ = memOf(p.cmd.Process.Pid)
	return r, nil
}

// sleepImage builds a tiny image holding /bin/sleep and its libraries.
func sleepImage(cli *client.Client) (string, error) {
	const ref = "lsbench/sleep:1"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []string{"/bin/sleep"}
	out, err := exec.Command("ldd", "/bin/sleep").Output()
	if err != nil {
		return "", fmt.Errorf("ldd /bin/sleep: %w", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files = append(files, f)
		}
	}
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for _, d := range ds {
		tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, Typeflag: tar.TypeDir})
	}
	for _, f := range files {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(real)
		if err != nil {
			return "", err
		}
		tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(f, "/"), Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	rc, err := cli.ImageImport(context.Background(), image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	return ref, nil
}

func benchDockerd(n, restarts int) (result, error) {
	r := result{daemon: "dockerd 20.10 + containerd-shim-runc-v2", n: n}
	dir, err := os.MkdirTemp("/tmp", "lsbench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	defer unmountUnder(dir)
	defer killTiedTo(dir)
	sock := filepath.Join(dir, "docker.sock")
	cfg := map[string]any{
		"live-restore": true, "data-root": dir + "/root", "exec-root": dir + "/exec", "pidfile": dir + "/docker.pid",
		"hosts": []string{"unix://" + sock}, "bridge": "none", "iptables": false, "ip6tables": false, "storage-driver": "vfs",
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(dir+"/daemon.json", b, 0o644); err != nil {
		return r, err
	}
	p := &daemonProc{log: filepath.Join(dir, "dockerd.log"), argv: []string{"/usr/sbin/dockerd", "--config-file", dir + "/daemon.json"}}
	if err := p.start(); err != nil {
		return r, err
	}
	defer func() { p.stop(60 * time.Second) }()
	if err := waitPing(sock, 60*time.Second); err != nil {
		return r, err
	}
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		return r, err
	}
	defer cli.Close()
	defer removeContainers(cli)
	img, err := sleepImage(cli)
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	if err := runContainers(cli, n, img, "host"); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "dockerd: %d containers started in %v\n", n, time.Since(t0).Round(time.Millisecond))
	shims, err := shimsOf(cli)
	if err != nil {
		return r, err
	}
	r.shimsCount = len(shims)
	r.shimRSS, r.shimPSS = shimMem(shims)
	fp := measure("", shims)
	r.shimUSS, r.shimThr = fp.uss, fp.threads
	for i := 0; i < restarts; i++ {
		r.stop = append(r.stop, p.stop(60*time.Second))
		t0 := time.Now()
		if err := p.start(); err != nil {
			return r, err
		}
		if err := waitPing(sock, 120*time.Second); err != nil {
			return r, err
		}
		r.ready = append(r.ready, time.Since(t0))
		if err := waitListed(cli, n, 120*time.Second); err != nil {
			return r, err
		}
		r.listed = append(r.listed, time.Since(t0))
		fmt.Fprintf(os.Stderr, "dockerd n=%d restart %d: ready %v, listed %v\n", n, i+1, r.ready[i].Round(time.Microsecond), r.listed[i].Round(time.Microsecond))
	}
	r.daemonRSS, _ = memOf(p.cmd.Process.Pid)
	return r, nil
}
