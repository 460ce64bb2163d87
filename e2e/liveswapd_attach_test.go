package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	units "github.com/docker/go-units"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/testbed"
)

// dockerSplit runs the docker CLI with its stdout and stderr apart, and
// returns its exit code.
func dockerSplit(t *testing.T, host string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cfg := t.TempDir()
	cmd := exec.Command(testbed.DockerBin, append([]string{"--config", cfg, "-H", host}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("docker %s did not return within 60s; stdout %q stderr %q", strings.Join(args, " "), o.String(), e.String())
	}
	t.Logf("docker %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, o.String(), e.String())
	return o.String(), e.String(), code
}

// TestLiveswapdAttachExec drives the docker CLI 20.10 in the foreground
// against a real liveswapd: run (stdout and stderr apart, the exit code),
// run --rm, attach, exec (in the container's namespaces, -u, -e, -w, exit
// codes), each with its refusal (run -i and -t, exec --privileged, log
// driver none, a stopped container; exec -i and -t are
// liveswapd_exec_tty_test.go's); and attach and exec again after a liveswapd restart.
func TestLiveswapdAttachExec(t *testing.T) {
	sd, l := liveswapdWithImage(t, "lsd-fg:1", dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"/bin/sleep", "600"}}}, "/usr/bin/head", "/usr/bin/sync")
	count := func() int { return len(strings.Fields(testbed.DockerCLI(t, l.Host, "ps", "-aq"))) }

	// Foreground run: stdout and stderr reach the CLI's own, the exit code
	// is the container's.
	begin := time.Now()
	out, errOut, code := dockerSplit(t, l.Host, "run", "--name", "fg", "lsd-fg:1", "/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3")
	t.Logf("foreground run took %v", time.Since(begin).Round(time.Millisecond))
	if out != "to-stdout\n" || errOut != "to-stderr\n" || code != 3 {
		t.Errorf("docker run: stdout %q stderr %q exit %d; want to-stdout, to-stderr, 3", out, errOut, code)
	}
	// --rm: the output, then no container left.
	before := count()
	if out, _, code := dockerSplit(t, l.Host, "run", "--rm", "lsd-fg:1", "/bin/sh", "-c", "echo bye"); out != "bye\n" || code != 0 {
		t.Errorf("docker run --rm: %q exit %d", out, code)
	}
	if n := count(); n != before {
		t.Errorf("docker run --rm left a container: %d containers, %d before", n, before)
	}

	// attach to a running container: its output from then until it ends,
	// and its exit code.
	tickScript := "while [ ! -e /tmp/go ]; do echo tick; sleep 0.1; done; echo final; exit 5"
	ticker := strings.TrimSpace(testbed.DockerCLI(t, l.Host, "run", "-d", "lsd-fg:1", "/bin/sh", "-c", tickScript))
	ticker2 := strings.TrimSpace(testbed.DockerCLI(t, l.Host, "run", "-d", "lsd-fg:1", "/bin/sh", "-c", tickScript))
	attachUntilEnd(t, l.Host, ticker)
	// exec: in the container's namespaces (its PID 1 is the container's
	// command), with -u, -e, -w, and the command's exit code.
	sleeper := strings.TrimSpace(testbed.DockerCLI(t, l.Host, "run", "-d", "--name", "sleeper", "lsd-fg:1"))
	out, _, code = dockerSplit(t, l.Host, "exec", "-u", "nobody", "-e", "FOO=bar", "-w", "/etc", sleeper, "/bin/sh", "-c",
		`echo "foo=$FOO pwd=$(pwd)"; cat /proc/self/status; exit 7`)
	if code != 7 || !strings.Contains(out, "foo=bar pwd=/etc") || !strings.Contains(out, "Uid:\t65534") {
		t.Errorf("docker exec: exit %d, output %q; want 7, foo=bar pwd=/etc, uid 65534", code, out)
	}
	if out, _, code := dockerSplit(t, l.Host, "exec", sleeper, "/bin/cat", "/proc/1/cmdline"); code != 0 || !strings.HasPrefix(out, "/bin/sleep") {
		t.Errorf("exec: the container's PID 1 is %q (exit %d), want its /bin/sleep", out, code)
	}
	if _, errOut, code := dockerSplit(t, l.Host, "exec", sleeper, "no-such-command"); code != 127 || !strings.Contains(errOut, "no-such-command") {
		t.Errorf("docker exec of a missing command: exit %d, stderr %q; want 127 naming it", code, errOut)
	}

	// Refused, each naming what; nothing created.
	before = count()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-i", "lsd-fg:1", "true"}, "-i"},
		{[]string{"run", "-t", "lsd-fg:1", "true"}, "-t"},
		{[]string{"run", "--log-driver", "none", "lsd-fg:1", "true"}, "log driver none"},
		{[]string{"exec", "--privileged", sleeper, "true"}, "--privileged"},
		{[]string{"exec", "fg", "true"}, "is not running"},
		{[]string{"attach", "fg"}, "cannot attach to a stopped container"},
	} {
		_, errOut, code := dockerSplit(t, l.Host, tt.args...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("docker %s: exit %d, stderr %q; want a refusal containing %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
	if n := count(); n != before {
		t.Errorf("refused runs left %d containers", n-before)
	}

	// stats: figures from the container's own cgroup. A container spinning
	// under --cpus 0.5 shows about half a CPU, its --memory limit and its
	// pids; the sleeper shows the host's memory as its limit.
	spinner := strings.TrimSpace(testbed.DockerCLI(t, l.Host, "run", "-d", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", "lsd-fg:1", "/bin/sh", "-c", "while :; do :; done"))
	out, _, code = dockerSplit(t, l.Host, "stats", "--no-stream", "--format", "{{.ID}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}", spinner, sleeper)
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Split(line, "|"); len(f) == 4 {
			rows[f[0]] = f[1:]
		}
	}
	if r := rows[spinner[:12]]; code != 0 || len(r) != 3 || !strings.HasSuffix(r[1], "/ 64MiB") || r[2] != "1" || cpuPercent(r[0]) < 10 || cpuPercent(r[0]) > 80 {
		t.Errorf("docker stats of the spinner: exit %d, row %q; want 10-80%% CPU (--cpus 0.5), a limit of 64MiB and 1 pid", code, r)
	}
	if r := rows[sleeper[:12]]; len(r) != 3 || strings.HasSuffix(r[1], "/ 0B") || strings.HasPrefix(r[1], "0B") || r[2] != "1" {
		t.Errorf("docker stats of the sleeper: row %q; want its memory, the host's as its limit, 1 pid", r)
	}
	testbed.DockerCLI(t, l.Host, "rm", "-f", spinner)
	statsIO(t, l.Host, sleeper)

	// Routes liveswapd does not serve answer 501 naming the route, never
	// 404 (which clients read as "no such container"); top is real.
	for _, args := range [][]string{{"export", "-o", filepath.Join(t.TempDir(), "x.tar"), sleeper}, {"volume", "create", "lsvol"}, {"plugin", "ls"}} {
		_, errOut, code := dockerSplit(t, l.Host, args...)
		if code == 0 || !strings.Contains(errOut, "not implemented by liveswapd") || strings.Contains(errOut, "No such") {
			t.Errorf("docker %s: exit %d, stderr %q; want refused as not implemented", strings.Join(args, " "), code, errOut)
		}
	}
	if top, _, _ := dockerSplit(t, l.Host, "top", sleeper); !strings.Contains(top, "/bin/sleep 600") || !strings.Contains(top, "\n0 ") && !strings.HasPrefix(strings.SplitN(top, "\n", 2)[1], "0 ") {
		t.Errorf("docker top: %q, want the container's sleep run by uid 0", top)
	}

	// After a restart the same container takes exec and attach.
	pid := testbed.DockerCLI(t, l.Host, "inspect", "--format", "{{.State.Pid}}", sleeper)
	sd.RestartUnit(t, l.Unit)
	if now := testbed.DockerCLI(t, l.Host, "inspect", "--format", "{{.State.Pid}}", sleeper); now != pid {
		t.Errorf("sleeper pid %s after the restart, was %s", now, pid)
	}
	// attachUntilEnd needs exec to end the ticker: both after the restart.
	attachUntilEnd(t, l.Host, ticker2)
	if ents, _ := os.ReadDir(filepath.Join(l.Dir, "exec", "execs")); len(ents) != 0 {
		t.Errorf("exec sessions left %d folders", len(ents))
	}
}

// statsIO checks docker stats' BLOCK I/O and NET I/O. A --network none
// container writes 5 MB and syncs: its block I/O must say what the
// kernel's blkio counters for its cgroup say (cgroup v1 charges only I/O
// issued by the container itself, not the flusher's writeback: 12 to 41
// kB in the runs here). Its own namespace's lo starts at zero and
// grows by the datagrams the test sends over it (the image has no ping and
// dash no /dev/tcp: the test joins the namespace). A host-network
// container shows no networks: 0B / 0B.
func statsIO(t *testing.T, host, hostNet string) {
	t.Helper()
	c := strings.TrimSpace(testbed.DockerCLI(t, host, "run", "-d", "--network", "none", "lsd-fg:1", "/bin/sh", "-c", "/usr/bin/head -c 5000000 /dev/zero > /tmp/f; /usr/bin/sync; echo synced; exec sleep 600"))
	defer testbed.DockerCLI(t, host, "rm", "-f", c)
	testbed.WaitUntil(t, "the writer to sync", 20*time.Second, func() bool { return strings.Contains(testbed.DockerCLI(t, host, "logs", c), "synced") })
	rows := func() map[string][]string {
		out := testbed.DockerCLI(t, host, "stats", "--no-stream", "--format", "{{.ID}}|{{.BlockIO}}|{{.NetIO}}", c, hostNet)
		m := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Split(line, "|"); len(f) == 3 {
				m[f[0]] = f[1:]
			}
		}
		return m
	}
	r := rows()
	kernel := blkioWritten(t, "/sys/fs/cgroup/blkio/liveswapd/"+c+"/blkio.throttle.io_service_bytes_recursive")
	t.Logf("5 MB written and synced: docker stats BLOCK I/O and NET I/O %q, the kernel's blkio counters %d bytes written; host network %q", r[c[:12]], kernel, r[hostNet[:12]])
	if len(r[c[:12]]) != 2 || (kernel == 0) != strings.HasSuffix(r[c[:12]][0], "/ 0B") {
		t.Errorf("docker stats block I/O %q, the kernel counted %d bytes written", r[c[:12]], kernel)
	}
	if len(r[c[:12]]) != 2 || r[c[:12]][1] != "0B / 0B" || len(r[hostNet[:12]]) != 2 || r[hostNet[:12]][1] != "0B / 0B" {
		t.Errorf("net I/O before any traffic: %q, host network %q; want 0B / 0B both", r[c[:12]], r[hostNet[:12]])
	}
	const datagrams, payload = 100, 1000
	loopbackDatagrams(t, testbed.DockerCLI(t, host, "inspect", "--format", "{{.State.Pid}}", c), datagrams, payload)
	// Each datagram crosses lo once: sent and received, 28 bytes of
	// headers over its payload (the port-unreachable answers add more).
	var rx, tx int64
	testbed.WaitUntil(t, "the datagrams in docker stats' NET I/O", 20*time.Second, func() bool {
		if n := rows()[c[:12]]; len(n) == 2 {
			in, out, _ := strings.Cut(n[1], " / ")
			rx, _ = units.FromHumanSize(in)
			tx, _ = units.FromHumanSize(out)
		}
		return rx >= datagrams*(payload+28) && tx >= datagrams*(payload+28)
	})
	t.Logf("after %d datagrams of %d bytes over the container's lo: NET I/O %d B received, %d B sent", datagrams, payload, rx, tx)
}

// blkioWritten sums the Write lines of a cgroup v1 blkio file.
func blkioWritten(t *testing.T, path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the container's blkio counters: %v", err)
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "Write" {
			v, _ := strconv.ParseInt(f[2], 10, 64)
			n += v
		}
	}
	return n
}

// loopbackDatagrams sends UDP datagrams to 127.0.0.1:9 from inside the
// network namespace of process pid, on a thread of its own that ends
// with it (never handed back to Go in another namespace).
func loopbackDatagrams(t *testing.T, pid string, n, size int) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		done <- func() error {
			ns, err := os.Open("/proc/" + strings.TrimSpace(pid) + "/ns/net")
			if err != nil {
				return err
			}
			defer ns.Close()
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				return err
			}
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			to := &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}
			for i := 0; i < n; i++ {
				if err := unix.Sendto(fd, make([]byte, size), 0, to); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	if err := <-done; err != nil {
		t.Fatalf("sending over the container's loopback: %v", err)
	}
}

// cpuPercent reads docker stats' "12.34%".
func cpuPercent(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return -1
	}
	return f
}

// attachUntilEnd attaches the docker CLI to a ticking container, waits for
// a tick to arrive through the stream, lets the container end through
// docker exec (touch /tmp/go), and wants the final line and exit code 5.
func attachUntilEnd(t *testing.T, host, id string) {
	t.Helper()
	cmd := exec.Command(testbed.DockerBin, "--config", t.TempDir(), "-H", host, "attach", id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	var got []string
	wait := func(want string) {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("docker attach %s ended before %q; read %q", id[:12], want, got)
				}
				got = append(got, l)
				if l == want {
					return
				}
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("docker attach %s: no %q within 60s; read %q", id[:12], want, got)
			}
		}
	}
	wait("tick")
	testbed.DockerCLI(t, host, "exec", id, "/bin/sh", "-c", "echo > /tmp/go")
	wait("final")
	for range lines {
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Errorf("docker attach %s ended with %v, want exit code 5", id[:12], err)
	}
	t.Logf("docker attach %s: %d lines, then final, exit 5", id[:12], len(got))
}
