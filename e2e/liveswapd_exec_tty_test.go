package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/liveswap/liveswap/internal/testbed"
)

// TestLiveswapdExecTTY drives `docker exec -it` (CLI 20.10) through a
// terminal the test opens, against a real liveswapd running the container
// through runc: the shell sees a /dev/pts terminal of the size the test's
// terminal has, follows a resize, and its exit code is the CLI's; `docker
// exec -i` round-trips bytes through cat; and a session open across a
// liveswapd restart ends (the CLI returns) while the container keeps its
// process, and leaves no process or folder behind.
func TestLiveswapdExecTTY(t *testing.T) {
	sd, l := liveswapdWithImage(t, "lsd-tty:1", dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"/bin/sleep", "600"}}}, "/usr/bin/stty", "/usr/bin/tty")
	c := strings.TrimSpace(testbed.DockerCLI(t, l.Host, "run", "-d", "lsd-tty:1"))

	// exec -it: the size the CLI's terminal has, then a resize, then the
	// shell's exit code.
	begin := time.Now()
	sh := startTerminalCLI(t, l.Host, pty.Winsize{Rows: 33, Cols: 97}, "exec", "-it", c, "/bin/sh")
	sh.expect(t, "# ")
	sh.untilSize(t, "33 97")
	if err := pty.Setsize(sh.ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	sh.untilSize(t, "40 120")
	sh.send("stty size; tty; echo $((6*7)); exit 3\r")
	sh.expect(t, "40 120\r\n")
	ttyPath := sh.expect(t, "\r\n")
	sh.expect(t, "42\r\n")
	if code := sh.wait(t); code != 3 || !strings.HasPrefix(strings.TrimSpace(ttyPath), "/dev/pts/") {
		t.Errorf("docker exec -it: tty %q, exit %d; want a /dev/pts path and exit 3", ttyPath, code)
	}
	t.Logf("docker exec -it: %s, sizes 33x97 then 40x120, exit 3, in %v", strings.TrimSpace(ttyPath), time.Since(begin).Round(time.Millisecond))

	// exec -i: stdin reaches the command byte for byte, the CLI's end of
	// input ends it.
	data := make([]byte, 16<<10)
	for i := range data {
		data[i] = byte(i*7 + i/256)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cat := exec.CommandContext(ctx, testbed.DockerBin, "--config", t.TempDir(), "-H", l.Host, "exec", "-i", c, "/bin/cat")
	cat.Stdin = bytes.NewReader(data)
	var catErr bytes.Buffer
	cat.Stderr = &catErr
	out, err := cat.Output()
	if err != nil || !bytes.Equal(out, data) {
		t.Errorf("docker exec -i cat: %v, %d bytes back (equal: %v), stderr %q; want the %d bytes sent", err, len(out), bytes.Equal(out, data), catErr.String(), len(data))
	}
	if out, _, code := dockerSplit(t, l.Host, "exec", "-t", c, "/usr/bin/tty"); code != 0 || !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("docker exec -t without a terminal of the CLI's own: %q exit %d, want a /dev/pts path", out, code)
	}
	if out, _, code := dockerSplit(t, l.Host, "exec", "-t", c, "no-such-command"); code != 127 || !strings.Contains(out, "no-such-command") {
		t.Errorf("docker exec -t of a missing command: %q exit %d, want 127 naming it", out, code)
	}
	if _, errOut, code := dockerSplit(t, l.Host, "exec", "--detach-keys", "ctrl-x", c, "true"); code == 0 || !strings.Contains(errOut, "--detach-keys") {
		t.Errorf("docker exec --detach-keys: exit %d, stderr %q; want refused by name", code, errOut)
	}

	// A session open across a restart: the stream ends, the shell loses
	// its terminal, the container stays.
	pid := testbed.DockerCLI(t, l.Host, "inspect", "--format", "{{.State.Pid}} {{.State.StartedAt}}", c)
	sh = startTerminalCLI(t, l.Host, pty.Winsize{Rows: 24, Cols: 80}, "exec", "-it", c, "/bin/sh")
	sh.expect(t, "# ")
	sh.send("echo $((1+1))ready\r")
	sh.expect(t, "2ready")
	procs := execProcesses(t, l, c)
	if len(procs) != 2 {
		t.Fatalf("the session's runc exec and shell: %v, want 2 processes", procs)
	}
	begin = time.Now()
	sd.RestartUnit(t, l.Unit)
	code := sh.wait(t)
	t.Logf("docker exec -it across a restart: the CLI returned %d after %v", code, time.Since(begin).Round(time.Millisecond))
	if now := testbed.DockerCLI(t, l.Host, "inspect", "--format", "{{.State.Pid}} {{.State.StartedAt}}", c); now != pid {
		t.Errorf("the container's pid and start %q after the restart, was %q", now, pid)
	}
	testbed.WaitUntil(t, "the cut session's runc exec and shell to end", 15*time.Second, func() bool {
		for _, p := range procs {
			if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err == nil {
				return false
			}
		}
		return true
	})
	if ents, _ := os.ReadDir(filepath.Join(l.Dir, "exec", "execs")); len(ents) != 0 {
		t.Errorf("the cut session left %d exec folders", len(ents))
	}
	if out, _, code := dockerSplit(t, l.Host, "exec", c, "/bin/cat", "/proc/1/cmdline"); code != 0 || !strings.HasPrefix(out, "/bin/sleep") {
		t.Errorf("exec after the restart: %q exit %d", out, code)
	}
}

// terminalCLI is the docker CLI run on a terminal the test holds.
type terminalCLI struct {
	cmd  *exec.Cmd
	ptmx *os.File
	done chan error

	mu   sync.Mutex
	out  []byte
	read int // how far expect has consumed out
}

func startTerminalCLI(t *testing.T, host string, size pty.Winsize, args ...string) *terminalCLI {
	t.Helper()
	cmd := exec.Command(testbed.DockerBin, append([]string{"--config", t.TempDir(), "-H", host}, args...)...)
	ptmx, err := pty.StartWithSize(cmd, &size)
	if err != nil {
		t.Fatal(err)
	}
	p := &terminalCLI{cmd: cmd, ptmx: ptmx, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			p.mu.Lock()
			p.out = append(p.out, buf[:n]...)
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		ptmx.Close()
	})
	return p
}

func (p *terminalCLI) send(s string) { p.ptmx.Write([]byte(s)) }

// expect waits for want in what the CLI printed after the last expect,
// and returns what came before it.
func (p *terminalCLI) expect(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.mu.Lock()
		rest := string(p.out[p.read:])
		if i := strings.Index(rest, want); i >= 0 {
			p.read += i + len(want)
			p.mu.Unlock()
			return rest[:i]
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %q from docker %s within 20s; it printed %q", want, strings.Join(p.cmd.Args[5:], " "), rest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// untilSize runs stty size in the shell until it prints want: the CLI
// passes its terminal's size on as it learns it.
func (p *terminalCLI) untilSize(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.send("stty size\r")
		got := p.expect(t, "# ")
		if strings.Contains(got, "\r\n"+want+"\r\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stty size in docker exec -it printed %q, want %s within 10s", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait returns the CLI's exit code; it must end within 30 s.
func (p *terminalCLI) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("docker %s did not return within 30s; it printed %q", strings.Join(p.cmd.Args[5:], " "), p.out)
		return -1
	}
}

// execProcesses lists the runc exec processes of container c and the
// commands they run (from the sessions' pid files).
func execProcesses(t *testing.T, l *testbed.Liveswapd, c string) []int {
	t.Helper()
	var pids []int
	dirs, _ := filepath.Glob(filepath.Join(l.Dir, "exec", "execs", "*"))
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "pid")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids = append(pids, n)
			}
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 2 && args[len(args)-1] == c && strings.Contains(string(b), "\x00exec\x00") {
			pids = append(pids, n)
		}
	}
	return pids
}
