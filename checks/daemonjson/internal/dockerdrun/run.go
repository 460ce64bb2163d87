// Package dockerdrun starts a real dockerd with a daemon.json in a throwaway,
// isolated set of paths and reports whether it started or refused the file.
// It produces the expected verdicts of the validator's corpus, and the
// end-to-end test uses it to check that those verdicts still hold.
package dockerdrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Placeholder is replaced by the run's private directory in a corpus file
// before dockerd reads it, so files that set paths keep them isolated.
const Placeholder = "@DIR@"

// Verdict is what dockerd did with a configuration.
type Verdict string

// The two outcomes a corpus records.
const (
	Starts  Verdict = "starts"
	Refuses Verdict = "refuses"
)

// Result is the outcome of one run.
type Result struct {
	Verdict Verdict
	// Reason is dockerd's error message for a refusal (paths of the run
	// replaced by the placeholder), empty when it started.
	Reason   string
	ExitCode int
	Duration time.Duration
}

// isolation lists the paths that keep a test daemon's files in its private
// directory: each is passed as a flag unless the file sets the key itself
// (a key in both places would make dockerd refuse the file for that reason
// alone). Networking and the storage driver keep dockerd's defaults: the
// sandbox gives dockerd a network namespace of its own, so the default
// bridge, its MTU and address checks and the iptables rules are real.
var isolation = []struct {
	key  string
	args func(dir string) []string
}{
	{"data-root", func(d string) []string { return []string{"--data-root", d + "/root"} }},
	{"exec-root", func(d string) []string { return []string{"--exec-root", d + "/exec"} }},
	{"pidfile", func(d string) []string { return []string{"--pidfile", d + "/docker.pid"} }},
	{"hosts", func(d string) []string { return []string{"--host", "unix://" + d + "/docker.sock"} }},
}

// Args returns the dockerd arguments (without the binary) a run uses for a
// file with the given content, its private directory dir and extra flags.
// The validator's corpus test builds the same list as ExecStart.
func Args(content []byte, dir string, extra []string) []string {
	args := []string{"--config-file", dir + "/daemon.json"}
	for _, iso := range isolation {
		if mentions(content, iso.key) || flagsMention(extra, iso.key) {
			continue
		}
		args = append(args, iso.args(dir)...)
	}
	return append(args, extra...)
}

// mentions reports whether the file text names key as a JSON string, which
// is enough to leave the flag out: a file that is not valid JSON is refused
// before any path is used.
func mentions(content []byte, key string) bool {
	return bytes.Contains(content, []byte(`"`+key+`"`))
}

func flagsMention(extra []string, key string) bool {
	name := key
	if key == "hosts" {
		name = "host"
	}
	for _, a := range extra {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") || (key == "hosts" && strings.HasPrefix(a, "-H")) {
			return true
		}
	}
	return false
}

// ReadExtraFlags reads the optional FILE.flags beside a corpus file: extra
// dockerd arguments, one a line, with @DIR@ placeholders.
func ReadExtraFlags(corpusFile string) ([]string, error) {
	b, err := os.ReadFile(strings.TrimSuffix(corpusFile, filepath.Ext(corpusFile)) + ".flags")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read extra flags: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, nil
}

// Options tune a run.
type Options struct {
	Release Release       // the dockerd, containerd and runc to run
	Timeout time.Duration // how long to wait for the API, default 40s
	TempDir string        // parent of the private directory, default os.TempDir()
	// Files is a folder copied to DIR/files before dockerd starts (the
	// corpus's certificates and profiles that files name as
	// @DIR@/files/...); empty copies nothing.
	Files string
}

// transient are refusals caused by a loaded machine, not by the file:
// such a run is tried again.
var transient = []string{"timeout waiting for containerd to start", "failed to start containerd"}

// Run starts the release's dockerd with content as its config file and
// extra flags in a sandbox (see sandbox), waits until the API serves
// (starts) or dockerd exits non-zero (refuses), then stops it and removes
// the private directory. A refusal for a transient reason is retried twice.
func Run(ctx context.Context, content []byte, extra []string, o Options) (Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := runOnce(ctx, content, append([]string(nil), extra...), o)
		if err != nil || res.Verdict != Refuses || attempt == 3 || !isTransient(res.Reason) {
			return res, err
		}
	}
}

func isTransient(reason string) bool {
	for _, t := range transient {
		if strings.Contains(reason, t) {
			return true
		}
	}
	return false
}

// sandbox is the script that runs as the first process of new mount,
// network and PID namespaces before it becomes dockerd: the host's /run,
// /etc, /var/lib and network are never touched (dockerd creates its
// bridge and iptables rules in a network namespace of its own; useradd
// for "userns-remap": "default" writes to an overlay of /etc), and the
// release's binaries are layered over /usr/sbin and /usr/bin read-only,
// so dockerd finds its own containerd, shims, runc and docker-proxy where
// the packages put them. When dockerd, the namespace's init, exits, the
// kernel kills whatever it left (a containerd orphaned by a fatal exit).
const sandbox = `set -e
d=$1; shift
ip link set lo up
mount -t tmpfs -o mode=0755 tmpfs /run
for m in etc var/lib; do
  n=$(echo $m | tr / _)
  mkdir -p "$d/sb/$n.up" "$d/sb/$n.work"
  mount -t overlay overlay -o "lowerdir=/$m,upperdir=$d/sb/$n.up,workdir=$d/sb/$n.work" "/$m"
done
mount -t overlay overlay -o "lowerdir=$LSDJ_DOCKER/usr/sbin:$LSDJ_RUNC/usr/sbin:/usr/sbin" /usr/sbin
mount -t overlay overlay -o "lowerdir=$LSDJ_CONTAINERD/usr/bin:/usr/bin" /usr/bin
exec /usr/sbin/dockerd "$@"
`

// listening is what dockerd logs once its API serves: a start, even when
// the file's only listener is a TCP address inside the sandbox.
var listening = regexp.MustCompile(`API listen on `)

func runOnce(ctx context.Context, content []byte, extra []string, o Options) (Result, error) {
	if o.Release.Docker == "" {
		return Result{}, errors.New("no release to run: set Options.Release (dockerdrun.FindReleases)")
	}
	if o.Timeout == 0 {
		o.Timeout = 40 * time.Second
	}
	// Short parent: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp(o.TempDir, "lsdj-")
	if err != nil {
		return Result{}, fmt.Errorf("private dir: %w", err)
	}
	defer os.RemoveAll(dir)
	// As /var/lib is: "userns-remap" needs o+x on every parent of the
	// data-root, and MkdirTemp makes it 0700.
	if err := os.Chmod(dir, 0o755); err != nil {
		return Result{}, err
	}
	if len(dir+"/exec/containerd/containerd.sock.ttrpc") > 104 {
		return Result{}, fmt.Errorf("private dir %s is too long for containerd's unix sockets; use a shorter TempDir", dir)
	}

	if o.Files != "" {
		if err := os.CopyFS(filepath.Join(dir, "files"), os.DirFS(o.Files)); err != nil {
			return Result{}, fmt.Errorf("copy %s: %w", o.Files, err)
		}
	}
	body := bytes.ReplaceAll(content, []byte(Placeholder), []byte(dir))
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), body, 0o600); err != nil {
		return Result{}, fmt.Errorf("write config: %w", err)
	}
	for i := range extra {
		extra[i] = strings.ReplaceAll(extra[i], Placeholder, dir)
	}
	argv := append([]string{"--mount", "--net", "--pid", "--fork", "--mount-proc", "--propagation", "private",
		"--kill-child=SIGKILL", "--", "/bin/sh", "-c", sandbox, "sh", dir}, Args(content, dir, extra)...)
	cmd := exec.Command("unshare", argv...)
	out := &watchedOutput{started: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	// Own process group; and if this process dies, unshare dies, and with
	// it (--kill-child) the namespace's init and everything in it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "DOCKER_CERT_PATH="+dir+"/certs", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LSDJ_DOCKER="+o.Release.Docker, "LSDJ_CONTAINERD="+o.Release.Containerd, "LSDJ_RUNC="+o.Release.Runc)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start unshare: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	sock := filepath.Join(dir, "docker.sock")
	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			res := Result{Duration: time.Since(start), Reason: reason(out.String(), dir)}
			var ee *exec.ExitError
			switch {
			case err == nil:
				return res, fmt.Errorf("dockerd exited 0 without serving: %s", res.Reason)
			case errors.As(err, &ee):
				res.Verdict, res.ExitCode = Refuses, ee.ExitCode()
				return res, nil
			default:
				return res, fmt.Errorf("wait dockerd: %w", err)
			}
		case <-out.started:
			return Result{Verdict: Starts, Duration: time.Since(start)}, stop(cmd, exited)
		case <-tick.C:
			if ping(sock) {
				return Result{Verdict: Starts, Duration: time.Since(start)}, stop(cmd, exited)
			}
		case <-deadline.C:
			// A daemon that never serves (it waits for a containerd that
			// is not there) is down as surely as one that exits.
			_ = stop(cmd, exited)
			return Result{Verdict: Refuses, ExitCode: -1, Duration: time.Since(start),
				Reason: fmt.Sprintf("no API within %s (dockerd hangs): %s", o.Timeout, lastMsg(out.String(), dir))}, nil
		case <-ctx.Done():
			_ = stop(cmd, exited)
			return Result{}, ctx.Err()
		}
	}
}

// watchedOutput collects dockerd's output and closes started at the
// first "API listen on" line.
type watchedOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	started chan struct{}
	closed  bool
}

func (w *watchedOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && listening.Match(w.buf.Bytes()) {
		w.closed = true
		close(w.started)
	}
	return len(p), nil
}

func (w *watchedOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func ping(sock string) bool {
	c := http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
	}
	resp, err := c.Get("http://docker/_ping")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM to dockerd, the namespace's init (it stops its
// containerd itself), then SIGKILL to unshare if it has not exited in time:
// --kill-child takes the namespace down with it.
func stop(cmd *exec.Cmd, exited <-chan error) error {
	if pid := child(cmd.Process.Pid); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		return errors.New("dockerd ignored SIGTERM for 30s; killed")
	}
}

// child is the first child of pid (unshare's: the namespace's init).
func child(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	c, _ := strconv.Atoi(f[0])
	return c
}

// LeftoverProcesses lists processes whose command line contains prefix
// (tests check none outlive a run).
func LeftoverProcesses(prefix string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(prefix)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

var fatalRE = regexp.MustCompile(`level=fatal msg="(.*)"\s*$`)

// reason extracts dockerd's error from its output: the fatal log line, or
// the last line printed (errors before logging is set up are plain text).
func reason(out, dir string) string {
	var last string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "panic: ") {
			last = line
			break
		}
		if m := fatalRE.FindStringSubmatch(line); m != nil {
			last = m[1]
			continue
		}
		if line != "" && !strings.Contains(line, "level=") {
			last = line
		}
	}
	if last == "" {
		last = tail(out, 1)
	}
	last = strings.ReplaceAll(last, dir, Placeholder)
	last = strings.ReplaceAll(last, `\"`, `"`)
	return strings.Join(strings.Fields(last), " ")
}

var msgRE = regexp.MustCompile(`msg="((?:[^"\\]|\\.)*)"`)

// lastMsg is the message of the last log line, without its timestamp.
func lastMsg(out, dir string) string {
	line := tail(out, 1)
	if m := msgRE.FindStringSubmatch(line); m != nil {
		line = m[1]
	}
	line = strings.ReplaceAll(strings.ReplaceAll(line, dir, Placeholder), `\"`, `"`)
	return strings.Join(strings.Fields(line), " ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
