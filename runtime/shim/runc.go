package shim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
)

// startError is a container runc could not start, with the exit code
// dockerd gives it: 127 command not found, 126 not executable, 128 else.
type startError struct {
	code int
	msg  string
}

func (e *startError) Error() string { return e.msg }

// runcCmd runs the container's runc with its state root and a JSON log in
// the run folder (the shim's working directory).
func (s *shim) runcCmd(args ...string) *exec.Cmd {
	r := s.spec.Runc
	cmd := exec.Command(r.Binary, append([]string{"--root", r.Root, "--log", RuncLogFile, "--log-format", "json"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	return cmd
}

// startRunc creates and starts the container with `runc run --detach`,
// the run folder being the bundle. runc exits once the container runs, and
// the container, orphaned, is re-parented to the shim (a child subreaper):
// the shim waits for it and reaps it, as for image host. The container's
// stdio are the shim's pipes, which runc hands down.
func (s *shim) startRunc(stdin, stdout, stderr *os.File) (int, error) {
	id := s.spec.ID
	// runc's state of an earlier run of this container may remain (its
	// shim was killed before it could delete it).
	s.runcCmd("delete", "--force", id).Run()
	cmd := s.runcCmd("run", "--detach", "--pid-file", RuncPidFile, "--bundle", ".", id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		msg := LastRuncError(RuncLogFile)
		if msg == "" {
			msg = err.Error()
		}
		s.runcCmd("delete", "--force", id).Run()
		return 0, &startError{code: RuncExitCode(msg), msg: "runc run: " + msg}
	}
	b, err := os.ReadFile(RuncPidFile)
	if err != nil {
		s.runcCmd("delete", "--force", id).Run()
		return 0, &startError{code: 128, msg: fmt.Sprintf("runc started the container but wrote no pid file: %v", err)}
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		s.runcCmd("delete", "--force", id).Run()
		return 0, &startError{code: 128, msg: fmt.Sprintf("runc's pid file holds %q", b)}
	}
	return pid, nil
}

// deleteRunc removes runc's state and the container's cgroup once the
// container ended.
func (s *shim) deleteRunc() {
	if s.spec.Runc != nil {
		s.runcCmd("delete", "--force", s.spec.ID).Run()
	}
}

// RuncExitCode maps runc's start error to dockerd's exit codes.
func RuncExitCode(msg string) int {
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"):
		return 126
	}
	return 128
}

// LastRuncError is the last error runc logged (its --log-format json).
func LastRuncError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && (rec.Level == "error" || rec.Level == "fatal") {
			last = rec.Msg
		}
	}
	return last
}

// oomKilled reads, before runc deletes the cgroup, whether the kernel
// OOM-killed a process of the container (memory.oom_control on cgroup v1,
// memory.events on v2). The cgroup is the bundle's: the daemon chose it.
func (s *shim) oomKilled() bool {
	if s.spec.Runc == nil {
		return false
	}
	var bundle struct {
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	if atomicfile.ReadJSON(BundleFile, &bundle) != nil || bundle.Linux.CgroupsPath == "" {
		return false
	}
	cg := bundle.Linux.CgroupsPath
	for _, p := range []string{"/sys/fs/cgroup/memory" + cg + "/memory.oom_control", "/sys/fs/cgroup" + cg + "/memory.events"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(line, "oom_kill "); ok && strings.TrimSpace(n) != "0" {
				return true
			}
		}
	}
	return false
}
