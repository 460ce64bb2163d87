package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/stdcopy"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/runtime/shim"
)

// An exec session runs one command in a running container: through `runc
// exec` (the container's namespaces, cgroup, capabilities and seccomp
// profile, from its bundle) for a root folder or stored image, directly on
// the host for image host. runc exec is the daemon's child and waits for
// the command: a session lives as long as its API stream, and a daemon
// restart ends it (the container is untouched).
type execSession struct {
	id   string
	c    *Container
	opts container.ExecOptions

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	pid      int
	ended    time.Time
}

type execTable struct {
	mu sync.Mutex
	m  map[string]*execSession
}

// execsKept bounds how long an ended session stays inspectable.
const execsKept = 10 * time.Minute

func (t *execTable) add(s *execSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*execSession{}
	}
	for id, o := range t.m {
		o.mu.Lock()
		old := !o.ended.IsZero() && time.Since(o.ended) > execsKept
		o.mu.Unlock()
		if old {
			delete(t.m, id)
		}
	}
	t.m[s.id] = s
}

func (t *execTable) get(id string) (*execSession, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.m[id]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("No such exec instance: %s: %w", id, ErrNotFound)
}

// execCreate is POST /containers/ID/exec.
func (d *Daemon) execCreate(w http.ResponseWriter, r *http.Request, c *Container) {
	var o container.ExecOptions
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
		writeError(w, bodyError("decoding the exec request", err))
		return
	}
	var refused []string
	if o.Tty {
		refused = append(refused, "-t (a terminal)")
	}
	if o.AttachStdin {
		refused = append(refused, "-i (standard input)")
	}
	if o.Privileged {
		refused = append(refused, "--privileged")
	}
	if o.DetachKeys != "" {
		refused = append(refused, "--detach-keys")
	}
	if len(refused) > 0 {
		writeError(w, fmt.Errorf("docker exec %s not supported by liveswapd: exec runs a command and streams its output; run it without %s: %w", strings.Join(refused, ", "), plural(len(refused), "it", "them"), ErrUnsupported))
		return
	}
	if len(o.Cmd) == 0 {
		writeError(w, fmt.Errorf("no exec command specified: %w", ErrInvalid))
		return
	}
	spec, st := c.snapshot()
	if st.Status != StatusRunning {
		writeError(w, fmt.Errorf("Container %s is not running: %w", spec.ID, ErrConflict))
		return
	}
	if _, _, err := resolveUser(spec.Root, o.User); err != nil {
		writeError(w, err)
		return
	}
	s := &execSession{id: newID(), c: c, opts: o}
	d.execs.add(s)
	d.event(c, events.Action("exec_create: "+strings.Join(o.Cmd, " ")), map[string]string{"execID": s.id})
	writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: s.id})
}

// execStart is POST /exec/ID/start: detached, or the output streamed on
// the hijacked connection (multiplexed: no terminal).
func (d *Daemon) execStart(w http.ResponseWriter, r *http.Request) {
	s, err := d.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	var o container.ExecStartOptions
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil && err != io.EOF {
			writeError(w, bodyError("decoding the exec start request", err))
			return
		}
	}
	if o.Tty {
		writeError(w, fmt.Errorf("exec with a terminal (-t) is not supported by liveswapd: %w", ErrUnsupported))
		return
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		writeError(w, fmt.Errorf("exec %s has already been started: %w", s.id, ErrConflict))
		return
	}
	s.started = true
	s.mu.Unlock()
	cmd, cleanup, err := d.execCommand(s.c, s.opts, s.id)
	if err != nil {
		s.finish(126)
		writeError(w, err)
		return
	}
	if o.Detach {
		if err := cmd.Start(); err != nil {
			cleanup()
			s.finish(126)
			writeError(w, fmt.Errorf("starting exec: %v: %w", err, ErrConflict))
			return
		}
		s.begin(cmd)
		go func() { s.finish(d.execExit(s, cmd.Wait(), cleanup)) }()
		w.WriteHeader(http.StatusOK)
		return
	}
	conn, brw, err := hijack(w, r)
	if err != nil {
		cleanup()
		s.finish(126)
		return
	}
	defer closeStream(conn)
	out := &lockedWriter{w: flushWriter{brw}}
	stdout, stderr := stdcopy.NewStdWriter(out, stdcopy.Stdout), stdcopy.NewStdWriter(out, stdcopy.Stderr)
	if s.opts.AttachStdout || !s.opts.AttachStderr {
		cmd.Stdout = stdout
	}
	if s.opts.AttachStderr || !s.opts.AttachStdout {
		cmd.Stderr = stderr
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		fmt.Fprintf(stderr, "starting exec: %v\n", err)
		s.finish(126)
		return
	}
	s.begin(cmd)
	// The exit code is recorded before the stream ends: the CLI asks for it
	// (GET /exec/ID/json) as soon as it reads the end.
	s.finish(d.execExit(s, cmd.Wait(), cleanup))
}

func (s *execSession) begin(cmd *exec.Cmd) {
	s.mu.Lock()
	s.running, s.pid = true, cmd.Process.Pid
	s.mu.Unlock()
}

func (s *execSession) finish(code int) {
	s.mu.Lock()
	s.running, s.exitCode, s.ended = false, &code, time.Now()
	s.mu.Unlock()
}

// execExit turns the command's end into its exit code; a runc failure
// (the command not found, the container gone) gets dockerd's 126/127.
func (d *Daemon) execExit(s *execSession, err error, cleanup func() string) int {
	runcErr := cleanup()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 126
	}
	if runcErr != "" {
		return shim.RuncExitCode(runcErr) // 127 not found, 126 not executable, 128 else
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// execCommand builds the command of a session. cleanup removes its files
// and returns runc's error, if runc failed.
func (d *Daemon) execCommand(c *Container, o container.ExecOptions, id string) (*exec.Cmd, func() string, error) {
	spec, st := c.snapshot()
	if st.Status != StatusRunning {
		return nil, nil, fmt.Errorf("Container %s is not running: %w", spec.ID, ErrConflict)
	}
	uid, gid, err := resolveUser(spec.Root, o.User)
	if err != nil {
		return nil, nil, err
	}
	if spec.Root == "" {
		// Image host: the container has no namespaces to enter.
		ps, _, err := d.processSpec(c, spec)
		if err != nil {
			return nil, nil, err
		}
		argv0, err := shim.LookPath("", o.Cmd[0], mergeEnv(ps.Env, o.Env))
		if err != nil {
			return nil, nil, fmt.Errorf("OCI runtime exec failed: %v: %w", err, ErrInvalid)
		}
		cmd := exec.Command(argv0, o.Cmd[1:]...)
		cmd.Env = mergeEnv(ps.Env, o.Env)
		cmd.Dir = firstNonEmpty(o.WorkingDir, spec.Config.WorkingDir, "/")
		if o.User != "" {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		}
		return cmd, func() string { return "" }, nil
	}
	var bundle specs.Spec
	if err := atomicfile.ReadJSON(filepath.Join(c.runDir, shim.BundleFile), &bundle); err != nil || bundle.Process == nil {
		return nil, nil, fmt.Errorf("reading the container's bundle: %v", err)
	}
	var ps shim.Process
	if err := atomicfile.ReadJSON(filepath.Join(c.runDir, shim.ProcessFile), &ps); err != nil || ps.Runc == nil {
		return nil, nil, fmt.Errorf("reading the container's process spec: %v", err)
	}
	// The container's own process settings (capabilities, rlimits,
	// no-new-privileges, apparmor, seccomp via the container) with the
	// exec's command, environment, folder and user.
	p := *bundle.Process
	p.Terminal = false
	p.Args = o.Cmd
	p.Env = mergeEnv(p.Env, o.Env)
	if o.WorkingDir != "" {
		p.Cwd = o.WorkingDir
	}
	if o.User != "" {
		p.User = specs.User{UID: uid, GID: gid}
	}
	dir := filepath.Join(d.Config().ExecRoot, "execs", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "process.json"), p, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	log := filepath.Join(dir, "runc.log")
	cmd := exec.Command(ps.Runc.Binary, "--root", ps.Runc.Root, "--log", log, "--log-format", "json",
		"exec", "--process", filepath.Join(dir, "process.json"), "--pid-file", filepath.Join(dir, "pid"), spec.ID)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cleanup := func() string {
		msg := shim.LastRuncError(log)
		os.RemoveAll(dir)
		return msg
	}
	return cmd, cleanup, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// execInspect is GET /exec/ID/json, in dockerd's shape.
func (d *Daemon) execInspect(w http.ResponseWriter, r *http.Request) {
	s, err := d.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	spec, _ := s.c.snapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	pid := s.pid
	if spec.Root != "" && s.running {
		// runc exec's child, the command in the container.
		if b, err := os.ReadFile(filepath.Join(d.Config().ExecRoot, "execs", s.id, "pid")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pid = n
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ID": s.id, "ContainerID": s.c.ID(), "Running": s.running, "ExitCode": s.exitCode, "Pid": pid,
		"OpenStdin": false, "OpenStdout": s.opts.AttachStdout, "OpenStderr": s.opts.AttachStderr,
		"CanRemove": false, "DetachKeys": "",
		"ProcessConfig": map[string]any{"tty": false, "entrypoint": s.opts.Cmd[0], "arguments": nonNil(s.opts.Cmd[1:]), "privileged": false, "user": s.opts.User},
	})
}

// lockedWriter serialises the frames of stdout and stderr on one stream.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
