package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// footprint is what one runtime's per-container process (the shim, or
// conmon) costs: private memory (USS) and threads, averaged.
type footprint struct {
	runtime string
	n       int
	uss     float64 // KiB: Private_Clean + Private_Dirty
	threads float64
}

// ussOf returns pid's private memory in KiB (smaps_rollup) and its threads.
func ussOf(pid int) (uss float64, threads int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == "Private_Clean:" || f[0] == "Private_Dirty:") {
			v, _ := strconv.ParseFloat(f[1], 64)
			uss += v
		}
	}
	b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			threads, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return uss, threads
}

func measure(runtime string, pids []int) footprint {
	f := footprint{runtime: runtime, n: len(pids)}
	for _, p := range pids {
		u, t := ussOf(p)
		f.uss += u
		f.threads += float64(t)
	}
	if len(pids) > 0 {
		f.uss /= float64(len(pids))
		f.threads /= float64(len(pids))
	}
	return f
}

// sleepRootfs writes a root folder holding /bin/sleep and its libraries:
// the same container, run through runc, for all three runtimes.
func sleepRootfs(dir string) error {
	files := []string{"/bin/sleep"}
	out, err := exec.Command("ldd", "/bin/sleep").Output()
	if err != nil {
		return fmt.Errorf("ldd /bin/sleep: %w", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files = append(files, f)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
			return err
		}
	}
	// runc mounts /proc, /dev and /sys over these.
	for _, d := range []string{"proc", "dev", "sys", "tmp", "etc"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	return nil
}

// footprintLiveswapd runs n isolated containers (a root folder image,
// through runc) and measures their shims.
func footprintLiveswapd(bin, rootfs string, n int) (footprint, error) {
	f := footprint{runtime: "liveswapd shim"}
	l, err := startLiveswapd(bin, false)
	if err != nil {
		return f, err
	}
	defer l.close()
	if err := runContainers(l.cli, n, rootfs, "none"); err != nil {
		return f, err
	}
	shims, err := shimsOf(l.cli)
	if err != nil {
		return f, err
	}
	return measure(f.runtime, shims), nil
}

// shimsOf returns the parent of each running container's process.
func shimsOf(cli *client.Client) ([]int, error) {
	list, err := cli.ContainerList(context.Background(), container.ListOptions{})
	if err != nil {
		return nil, err
	}
	var shims []int
	for _, c := range list {
		ins, err := cli.ContainerInspect(context.Background(), c.ID)
		if err == nil && ins.State.Pid > 0 {
			shims = append(shims, parentOf(ins.State.Pid))
		}
	}
	return shims, nil
}

// footprintConmon runs n containers the way podman does: conmon creates
// each through runc and stays its parent; `runc start` starts it.
func footprintConmon(rootfs string, n int) (footprint, error) {
	f := footprint{runtime: "conmon"}
	out, err := exec.Command("conmon", "--version").Output()
	if err != nil {
		return f, fmt.Errorf("conmon not found (Debian package conmon; make deps installs it): %w", err)
	}
	if v := strings.Fields(string(out)); len(v) >= 3 {
		f.runtime += " " + v[2] // "conmon version 2.1.6"
	}
	dir, err := os.MkdirTemp("/tmp", "lsbench-")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)
	defer killTiedTo(dir)
	root := filepath.Join(dir, "runc")
	defer func() {
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("lsbench-conmon-%04d", i)
			exec.Command("runc", "--root", root, "delete", "--force", id).Run()
		}
	}()
	var pids []int
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("lsbench-conmon-%04d", i)
		b := filepath.Join(dir, id)
		for _, d := range []string{b, dir + "/exits", dir + "/socks"} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return f, err
			}
		}
		if out, err := exec.Command("runc", "spec", "--bundle", b).CombinedOutput(); err != nil {
			return f, fmt.Errorf("runc spec: %v: %s", err, out)
		}
		var spec map[string]any
		raw, err := os.ReadFile(b + "/config.json")
		if err != nil {
			return f, err
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return f, err
		}
		proc := spec["process"].(map[string]any)
		proc["args"], proc["terminal"] = []string{"sleep", "infinity"}, false
		spec["root"] = map[string]any{"path": rootfs, "readonly": true}
		raw, _ = json.Marshal(spec)
		if err := os.WriteFile(b+"/config.json", raw, 0o644); err != nil {
			return f, err
		}
		cmd := exec.Command("conmon", "--api-version", "1", "-c", id, "-u", id, "-n", id, "-r", "/usr/sbin/runc", "-b", b,
			"-p", b+"/pid", "-l", "k8s-file:"+b+"/ctr.log", "--exit-dir", dir+"/exits", "--socket-dir-path", dir+"/socks",
			"--runtime-arg", "--root="+root, "--conmon-pidfile", b+"/conmon.pid", "--log-level", "error")
		if out, err := cmd.CombinedOutput(); err != nil {
			return f, fmt.Errorf("conmon %s: %v: %s", id, err, out)
		}
		// conmon returns before runc create is done (podman waits on a sync
		// pipe): wait for the pid file runc writes once it is created.
		if err := waitFile(b+"/pid", 30*time.Second); err != nil {
			return f, fmt.Errorf("conmon %s: %w (log: %s/ctr.log)", id, err, b)
		}
		if out, err := exec.Command("runc", "--root", root, "start", id).CombinedOutput(); err != nil {
			return f, fmt.Errorf("runc start %s: %v: %s", id, err, out)
		}
		raw, err = os.ReadFile(b + "/conmon.pid")
		if err != nil {
			return f, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			return f, fmt.Errorf("%s/conmon.pid: %w", b, err)
		}
		pids = append(pids, pid)
	}
	return measure(f.runtime, pids), nil
}

// taskLimit returns this process's pids cgroup limit and current use
// (cgroup v1 or v2); 0, 0 when there is none.
func taskLimit() (max, cur int) {
	b, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var base string
		switch {
		case f[1] == "pids":
			base = "/sys/fs/cgroup/pids" + f[2]
		case f[0] == "0" && f[1] == "":
			base = "/sys/fs/cgroup" + f[2]
		default:
			continue
		}
		m, err1 := os.ReadFile(base + "/pids.max")
		c, err2 := os.ReadFile(base + "/pids.current")
		if err1 != nil || err2 != nil {
			continue
		}
		max, _ = strconv.Atoi(strings.TrimSpace(string(m))) // "max": 0
		cur, _ = strconv.Atoi(strings.TrimSpace(string(c)))
		if max > 0 {
			return max, cur
		}
	}
	return 0, 0
}

func waitFile(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not written within %v", path, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// liveswapdRun is a liveswapd started as a plain process, in a folder of
// its own under /tmp.
type liveswapdRun struct {
	dir, sock string
	p         *daemonProc
	cli       *client.Client
}

// startLiveswapd starts bin with live restore and waits for its API;
// allowHost sets the opt-in for image host. close undoes it all.
func startLiveswapd(bin string, allowHost bool) (*liveswapdRun, error) {
	dir, err := os.MkdirTemp("/tmp", "lsbench-")
	if err != nil {
		return nil, err
	}
	l := &liveswapdRun{dir: dir, sock: filepath.Join(dir, "lsd.sock")}
	argv := []string{bin, "--live-restore", "-H", "unix://" + l.sock, "--data-root", dir + "/data", "--exec-root", dir + "/exec", "--pidfile", dir + "/pid"}
	if allowHost {
		// The restore bench runs /bin/sleep from the host (image host),
		// which needs the opt-in; everything else comes from flags.
		if err := os.WriteFile(dir+"/daemon.json", []byte(`{"allow-host-image": true}`), 0o644); err != nil {
			l.close()
			return nil, err
		}
		argv = append(argv, "--config-file", dir+"/daemon.json")
	}
	l.p = &daemonProc{log: filepath.Join(dir, "liveswapd.log"), argv: argv}
	if err := l.p.start(); err != nil {
		l.p = nil
		l.close()
		return nil, err
	}
	if err := waitPing(l.sock, 30*time.Second); err != nil {
		l.close()
		return nil, err
	}
	if l.cli, err = client.NewClientWithOpts(client.WithHost("unix://"+l.sock), client.WithAPIVersionNegotiation()); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// close removes the containers, stops the daemon and removes its folder.
func (l *liveswapdRun) close() {
	if l.cli != nil {
		removeContainers(l.cli)
		l.cli.Close()
	}
	if l.p != nil {
		l.p.stop(30 * time.Second)
	}
	killTiedTo(l.dir)
	os.RemoveAll(l.dir)
}
