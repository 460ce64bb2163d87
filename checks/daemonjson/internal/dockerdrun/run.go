// Package dockerdrun starts a real dockerd with a daemon.json in a throwaway,
// isolated set of paths and reports whether it started or refused the file.
// It produces the expected verdicts of the validator's corpus, and the
// end-to-end test uses it to check that those verdicts still hold.
package dockerdrun

import (
	"bufio"
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
	"sort"
	"strconv"
	"strings"
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

// isolation lists the settings that keep a test daemon away from the host's
// own: each is passed as a flag unless the file sets the key itself (a key in
// both places would make dockerd refuse the file for that reason alone).
var isolation = []struct {
	key  string
	args func(dir string) []string
}{
	{"data-root", func(d string) []string { return []string{"--data-root", d + "/root"} }},
	{"exec-root", func(d string) []string { return []string{"--exec-root", d + "/exec"} }},
	{"pidfile", func(d string) []string { return []string{"--pidfile", d + "/docker.pid"} }},
	{"hosts", func(d string) []string { return []string{"--host", "unix://" + d + "/docker.sock"} }},
	{"bridge", func(d string) []string { return []string{"--bridge", "none"} }},
	{"iptables", func(d string) []string { return []string{"--iptables=false"} }},
	{"storage-driver", func(d string) []string { return []string{"--storage-driver", "vfs"} }},
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
	Dockerd string        // binary, default /usr/sbin/dockerd
	Timeout time.Duration // how long to wait for the socket, default 40s
	TempDir string        // parent of the private directory, default os.TempDir()
}

// transient are refusals caused by a loaded machine, not by the file:
// such a run is tried again.
var transient = []string{"timeout waiting for containerd to start", "failed to start containerd"}

// Run starts dockerd with content as its config file and extra flags, waits
// until the API answers /_ping (starts) or the process exits non-zero
// (refuses), then stops it and every process it started, and removes the
// private directory. A refusal for a transient reason is retried twice.
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

func runOnce(ctx context.Context, content []byte, extra []string, o Options) (Result, error) {
	if o.Dockerd == "" {
		o.Dockerd = "/usr/sbin/dockerd"
	}
	if o.Timeout == 0 {
		o.Timeout = 40 * time.Second
	}
	// A host containerd on its default socket would be used by the test
	// daemon instead of a private one: refuse rather than touch it.
	if _, err := os.Stat("/run/containerd/containerd.sock"); err == nil {
		return Result{}, errors.New("a containerd socket exists at /run/containerd/containerd.sock; the test daemon would share it")
	}
	// Short parent: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp(o.TempDir, "lsdj-")
	if err != nil {
		return Result{}, fmt.Errorf("private dir: %w", err)
	}
	defer cleanupDir(dir)
	if len(dir+"/exec/containerd/containerd.sock.ttrpc") > 104 {
		return Result{}, fmt.Errorf("private dir %s is too long for containerd's unix sockets; use a shorter TempDir", dir)
	}

	body := bytes.ReplaceAll(content, []byte(Placeholder), []byte(dir))
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), body, 0o600); err != nil {
		return Result{}, fmt.Errorf("write config: %w", err)
	}
	for i := range extra {
		extra[i] = strings.ReplaceAll(extra[i], Placeholder, dir)
	}
	args := Args(content, dir, extra)

	var stderr bytes.Buffer
	cmd := exec.Command(o.Dockerd, args...)
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	cmd.Dir = dir
	// Own process group so a stop reaches everything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(), "DOCKER_CERT_PATH="+dir+"/certs")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start %s: %w", o.Dockerd, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer killLeftovers(dir)

	sock := filepath.Join(dir, "docker.sock")
	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			res := Result{Duration: time.Since(start), Reason: reason(stderr.String(), dir)}
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
		case <-tick.C:
			if ping(sock) {
				res := Result{Verdict: Starts, Duration: time.Since(start)}
				return res, stop(cmd, exited)
			}
		case <-deadline.C:
			_ = stop(cmd, exited)
			return Result{}, fmt.Errorf("dockerd neither served /_ping nor exited within %s: %s", o.Timeout, tail(stderr.String(), 5))
		case <-ctx.Done():
			_ = stop(cmd, exited)
			return Result{}, ctx.Err()
		}
	}
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

// stop sends SIGTERM to the daemon (it stops its containerd itself), then
// SIGKILL to its process group if it has not exited in time.
func stop(cmd *exec.Cmd, exited <-chan error) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		return errors.New("dockerd ignored SIGTERM for 30s; killed")
	}
}

// killLeftovers kills, by pid, any process whose command line names the
// private directory (a containerd orphaned by a fatal exit), then waits
// until they are gone.
func killLeftovers(dir string) {
	for i := 0; i < 50; i++ {
		pids := processesNaming(dir)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			sig := syscall.SIGTERM
			if i > 20 {
				sig = syscall.SIGKILL
			}
			_ = syscall.Kill(pid, sig)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LeftoverProcesses lists processes whose command line contains prefix
// (tests check none outlive a run).
func LeftoverProcesses(prefix string) []int { return processesNaming(prefix) }

func processesNaming(s string) []int {
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
		if bytes.Contains(b, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cleanupDir unmounts whatever dockerd left mounted under dir (deepest
// first) and removes it.
func cleanupDir(dir string) {
	var mounts []string
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
				mounts = append(mounts, fields[4])
			}
		}
		f.Close()
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
	_ = os.RemoveAll(dir)
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

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
