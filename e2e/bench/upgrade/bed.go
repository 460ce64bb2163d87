package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
)

// bed is one target under test: its daemon as a unit of a private systemd
// manager, nginx and redis serving from it, the sleeping containers of the
// scale runs, and the plan of a same-version swap of its binary.
type bed struct {
	t           *benchTB
	kind        string // plan.Docker or plan.Liveswapd
	label       string // liveswapd, dockerd
	sd          *testbed.Systemd
	unit        string
	host        string // unix://socket
	socket      string
	config      string
	current     string // the binary the unit runs
	newFile     string // the same version, swapped in by apply
	version     string // what the daemon reports
	image       string // nginx and redis
	tiny        string // the sleepers and the canary
	web, kv     *testbed.Workload
	eng         *engine.Client
	liveswap    string // the CLI binary
	plan        *plan.Plan
	planFile    string
	sleepers    []string
	sleeperPIDs []int // their processes, for the last resort of cleanup
	interval    time.Duration
	logPath     string             // the daemon's output
	preflight   *checks.JSONReport // the warm-up run's report
}

// setup starts the target's daemon under a private systemd manager, with
// nginx and redis in it, and writes the plan apply runs.
func setup(t *benchTB, kind, liveswapBin string, interval time.Duration) *bed {
	b := &bed{t: t, kind: kind, liveswap: liveswapBin, interval: interval}
	b.sd = testbed.StartSystemd(t)
	switch kind {
	case plan.Docker:
		b.label = "dockerd"
		b.current = testbed.CopyBinary(t, testbed.DockerdBin)
		b.newFile = testbed.CopyBinary(t, testbed.DockerdBin)
		d := testbed.StartDockerd(t, b.sd, testbed.DockerdOptions{LiveRestore: true, Binary: b.current})
		b.host, b.socket, b.unit, b.config = d.Host, d.Socket, d.Unit, d.ConfigPath
		b.logPath = filepath.Join(d.Dir, "dockerd.log")
		b.image = testbed.BuildImage(t, d)
	case plan.Liveswapd:
		b.label = "liveswapd"
		l := testbed.StartLiveswapd(t, b.sd, testbed.LiveswapdOptions{LiveRestore: true})
		b.host, b.socket, b.unit, b.config = l.Host, l.Socket, l.Unit, l.ConfigPath
		b.current = l.Bin
		b.logPath = l.LogPath
		b.newFile = testbed.Build(t, "liveswapd", testbed.LiveswapdVersion)
		b.image, b.tiny = "host", "host"
	default:
		t.Fatalf("unknown target kind %q", kind)
	}
	eng, err := engine.New(b.host)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { eng.Close() })
	b.eng = eng
	st, err := eng.Status(context.Background())
	if err != nil {
		t.Fatalf("%v", err)
	}
	b.version = st.Version
	if b.tiny == "" {
		if b.tiny, err = tinyImage(eng.API()); err != nil {
			t.Fatalf("building the sleeper image: %v", err)
		}
	}
	b.web = testbed.RunNginx(t, b.host, b.image)
	b.kv = testbed.RunRedis(t, b.host, b.image)
	// Registered after the daemon started, so it runs before the daemon
	// stops: the sleepers go first, in parallel.
	t.Cleanup(b.removeSleepers)
	b.writePlan()
	b.warmUp()
	return b
}

// warmUp runs `liveswap preflight` on the plan once, unmeasured: the CLI
// binary is then in the page cache and the user bus (socket-activated)
// runs, for bare restarts and applies alike. A refusal here would refuse
// every apply, so it ends the target.
func (b *bed) warmUp() {
	var err error
	var out, errOut []byte
	for try := 1; try <= 3; try++ {
		cmd := exec.Command(b.liveswap, "preflight", "--plan", b.planFile, "--output", "json", "--state-dir", filepath.Join(b.t.TempDir(), "state"))
		cmd.Env = b.cliEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err = cmd.Output()
		errOut = stderr.Bytes()
		if err == nil {
			var rep checks.JSONReport
			if jerr := json.Unmarshal(out, &rep); jerr == nil {
				b.preflight = &rep
			}
			return
		}
		b.t.progress("%s: warm-up preflight, try %d: %v\n%s%s", b.label, try, err, out, errOut)
		time.Sleep(time.Second)
	}
	b.t.Fatalf("liveswap preflight --plan %s: %v\n%s%s", b.planFile, err, out, errOut)
}

func (b *bed) writePlan() {
	sha, err := checks.FileSHA256(b.newFile)
	if err != nil {
		b.t.Fatalf("%v", err)
	}
	p := &plan.Plan{
		Target:   plan.Target{Kind: b.kind, Unit: b.unit, Systemd: "user", Endpoint: b.host, DaemonConfig: b.config},
		Binaries: []plan.Binary{{Path: b.current, NewFile: b.newFile, SHA256: sha, ExpectedVersion: b.version}},
		Canary:   plan.Canary{Image: b.tiny, Command: []string{"/bin/true"}},
		Policy:   plan.Policy{ReadyTimeout: plan.Duration(2 * time.Minute)},
	}
	// apply's own probes run at the plan's default interval (20 ms), as an
	// operator's plan would; the benchmark's probes (b.interval) watch both
	// arms alike.
	for _, w := range []*testbed.Workload{b.web, b.kv} {
		p.Workloads = append(p.Workloads, plan.Workload{Container: w.Name, Probe: w.Kind, Address: w.Target()})
	}
	p.Default()
	if err := p.Validate(); err != nil {
		b.t.Fatalf("plan: %v", err)
	}
	out, err := p.Marshal()
	if err != nil {
		b.t.Fatalf("%v", err)
	}
	b.plan = p
	b.planFile = filepath.Join(b.t.TempDir(), "plan.yaml")
	if err := os.WriteFile(b.planFile, out, 0o644); err != nil {
		b.t.Fatalf("%v", err)
	}
}

// running is how many containers run now: the two workloads and the sleepers.
func (b *bed) running() int { return 2 + len(b.sleepers) }

// grow starts sleepers (`/bin/sleep infinity`, host network) until n
// containers run.
func (b *bed) grow(ctx context.Context, n int) (slowest time.Duration, err error) {
	first := len(b.sleepers)
	want := n - b.running()
	if want <= 0 {
		return 0, nil
	}
	ids := make([]string, want)
	var mu sync.Mutex
	err = parallel(want, 4, func(i int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		defer func() {
			mu.Lock()
			slowest = max(slowest, time.Since(t0))
			mu.Unlock()
		}()
		api := b.eng.API()
		c, err := api.ContainerCreate(ctx, &container.Config{Image: b.tiny, Cmd: []string{"/bin/sleep", "infinity"}},
			&container.HostConfig{NetworkMode: "host"}, nil, nil, fmt.Sprintf("sleeper-%04d", first+i))
		if err != nil {
			return err
		}
		ids[i] = c.ID
		if err := api.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			return err
		}
		in, err := api.ContainerInspect(ctx, c.ID)
		if err != nil {
			return err
		}
		if in.State != nil && in.State.Pid > 0 {
			mu.Lock()
			b.sleeperPIDs = append(b.sleeperPIDs, in.State.Pid)
			mu.Unlock()
		}
		return nil
	})
	for _, id := range ids {
		if id != "" {
			b.sleepers = append(b.sleepers, id)
		}
	}
	return slowest, err
}

func (b *bed) removeSleepers() {
	if len(b.sleepers) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ids := b.sleepers
	parallel(len(ids), 8, func(i int) error {
		return b.eng.API().ContainerRemove(ctx, ids[i], container.RemoveOptions{Force: true})
	})
	b.sleepers = nil
	// A daemon that died (or a manager that took it along) cannot remove
	// its containers; their processes are then killed here by PID, since
	// orphaned ones no longer descend from anything the testbed sweeps.
	for _, pid := range b.sleeperPIDs {
		if slices.Equal(procfs.Cmdline(pid), []string{"/bin/sleep", "infinity"}) {
			b.t.progress("%s: killing sleeper pid %d left by a daemon that could not remove it", b.label, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	b.sleeperPIDs = nil
}

// cliEnv is the environment of liveswap's runs: XDG_RUNTIME_DIR only, so
// it reaches the manager on its private socket, as the bare restarts do.
// The user bus is left out on purpose: every private manager on this host
// puts its dbus-daemon in the same cgroup (session.slice/dbus.service), so
// another manager stopping kills ours, and apply would then measure that.
func (b *bed) cliEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_RUNTIME_DIR="+b.sd.RuntimeDir)
}

// parallel runs f(i) for i < n on w workers and returns the first error.
func parallel(n, w int, f func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int)
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
