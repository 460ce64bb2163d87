package e2e

import (
	"bufio"
	"bytes"
	"io"
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

// TestDemo runs `liveswap demo` as `make demo` does. Beyond the story it
// prints, the test checks each act against the demo's own daemon, reached
// through the socket the demo names: its witness watches nginx and redis
// through the upgrade (uninterrupted, the new version answering), the
// refusal (uninterrupted) and the forced upgrade (both interrupted: the
// negative control really interrupted them), and once the demo has ended
// /proc shows none of the processes it started.
func TestDemo(t *testing.T) {
	testbed.Require(t, testbed.NginxBin, testbed.RedisBin, testbed.DockerBin)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	old := testbed.Build(t, "liveswapd", "1.0.0")
	next := testbed.Build(t, "liveswapd", "1.0.1")
	before, _ := os.ReadDir("/tmp")
	d := startDemo(t, liveswap, "demo", "--old", old, "--new", next)

	// The acts, in order; each is marked by a line the demo prints before
	// it goes on, and the demo is held (SIGSTOP) while the witness reads.
	const (
		starting = iota
		upgrading
		refusing
		forcing
		done
	)
	act, verifies := starting, 0
	var host, dir string
	var ws []*testbed.Workload
	var w *testbed.Witness
	var pids []int // every process of the demo seen: gone at the end
	seen := func() {
		for _, wl := range ws {
			pids = append(pids, w.Before[wl.Name].Pid, w.After[wl.Name].Pid)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "liveswapd.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	for l := range d.lines {
		text := strings.TrimSpace(l.text)
		switch {
		case act == starting && strings.Contains(text, " answers on "):
			sock := strings.SplitN(strings.SplitN(text, " answers on ", 2)[1], " (", 2)[0]
			host, dir = "unix://"+sock, filepath.Dir(sock)
		case act == starting && strings.Contains(text, " serving on "):
			f := strings.Fields(text) // NAME serving on ADDRESS
			wl := &testbed.Workload{Name: f[0], Kind: probe.Redis, Addr: f[3]}
			if strings.HasPrefix(f[3], "http://") {
				wl.Kind, wl.Addr = probe.HTTP, strings.TrimSuffix(strings.TrimPrefix(f[3], "http://"), "/")
			}
			ws = append(ws, wl)
			if len(ws) == 2 {
				if host == "" {
					t.Fatal("the demo never said where its daemon answers")
				}
				d.held(t, func() { w = testbed.Watch(t, host, ws...) })
				act = upgrading
			}
		case act == upgrading && strings.HasPrefix(text, "==> negative control: live restore turned off"):
			d.held(t, func() {
				w.Stop(t)
				seen()
				w.RequireUninterrupted(t)
				if v := daemonVersion(t, host); v != "1.0.1" {
					t.Fatalf("docker version after the upgrade: %s, want 1.0.1", v)
				}
				w = testbed.Watch(t, host, ws...)
			})
			act = refusing
		case act == refusing && strings.HasPrefix(text, "==> negative control, forced"):
			d.held(t, func() {
				w.Stop(t)
				w.RequireUninterrupted(t) // the refusal touched nothing
				w = testbed.Watch(t, host, ws...)
			})
			act = forcing
		case l.stderr && strings.HasPrefix(text, "[verify]"):
			// The forced run's verify waits 500 ms before it compares: the
			// demo is held there, before it removes everything.
			if verifies++; act == forcing && verifies >= 2 {
				d.held(t, func() {
					w.Stop(t)
					seen()
					w.RequireInterrupted(t)
				})
				act = done
			}
		}
	}
	code := d.wait()
	t.Logf("demo exit %d\n%s", code, d.stdout.String())
	if code != 0 {
		t.Fatalf("demo failed (exit %d)\nstderr:\n%s", code, d.stderr.String())
	}
	if act != done {
		t.Fatalf("the demo ended before the test saw every act (reached act %d of %d)", act, done)
	}
	for _, want := range []string{"result:   upgraded", "result:   refused", "result:   failed", "demo finished"} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	after, _ := os.ReadDir("/tmp")
	for _, e := range after {
		if strings.HasPrefix(e.Name(), "liveswap-demo-") && !contains(before, e.Name()) {
			t.Errorf("demo left /tmp/%s behind", e.Name())
		}
	}
	requireGone(t, pids)
}

// requireGone waits until none of pids is alive (zombies count as gone).
func requireGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for pid > 0 && procfs.Alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("pid %d (%s) outlived the demo", pid, strings.Join(procfs.Cmdline(pid), " "))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// demoProcess is a running `liveswap demo` whose output the test reads
// line by line as it comes.
type demoProcess struct {
	cmd            *exec.Cmd
	lines          chan demoLine // closed once both streams end
	stdout, stderr bytes.Buffer  // whole streams; read after lines is closed
	exited         chan struct{}
	code           int
}

type demoLine struct {
	stderr bool
	text   string
}

func startDemo(t *testing.T, liveswap string, args ...string) *demoProcess {
	t.Helper()
	d := &demoProcess{cmd: exec.Command(liveswap, args...), lines: make(chan demoLine, 64), exited: make(chan struct{})}
	outR, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	read := func(r io.Reader, stderr bool, into *bytes.Buffer) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			into.WriteString(sc.Text() + "\n")
			d.lines <- demoLine{stderr, sc.Text()}
		}
	}
	wg.Add(2)
	go read(outR, false, &d.stdout)
	go read(errR, true, &d.stderr)
	go func() {
		wg.Wait()
		close(d.lines)
		d.cmd.Wait()
		d.code = d.cmd.ProcessState.ExitCode()
		close(d.exited)
	}()
	// A test that fails midway lets the demo go on and clean up after
	// itself; only a demo that never ends is killed.
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGCONT)
		go func() {
			for range d.lines {
			}
		}()
		select {
		case <-d.exited:
		case <-time.After(5 * time.Minute):
			t.Errorf("the demo did not end; killing it")
			d.cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

// held runs f with the demo stopped (SIGSTOP, confirmed by /proc), so that
// it cannot go on to its next act meanwhile.
func (d *demoProcess) held(t *testing.T, f func()) {
	t.Helper()
	pid := d.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("holding the demo: %v", err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p, _ := procfs.Stat(pid); p.State == 'T' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo did not stop on SIGSTOP")
		}
		time.Sleep(time.Millisecond)
	}
	f()
}

// wait returns the demo's exit code once it has ended.
func (d *demoProcess) wait() int {
	<-d.exited
	return d.code
}

func contains(ents []os.DirEntry, name string) bool {
	for _, e := range ents {
		if e.Name() == name {
			return true
		}
	}
	return false
}
