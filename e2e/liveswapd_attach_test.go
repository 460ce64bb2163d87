package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

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
	sd, l := liveswapdWithImage(t, "lsd-fg:1", dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"/bin/sleep", "600"}}})
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
