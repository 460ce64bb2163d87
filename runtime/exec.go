package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime/shim"
)

// An exec session runs one command in a running container: through `runc
// exec` (the container's namespaces, cgroup, capabilities and seccomp
// profile, from its bundle) for a root folder or stored image, directly on
// the host for image host; with -i the client's input is its stdin, with
// -t a terminal (exec_tty.go). runc exec is the daemon's child and waits
// for the command: a session lives as long as its API stream, and a daemon
// restart ends it — the stream ends, the command loses its stdin or its
// terminal (SIGHUP), the container is untouched.
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
	// master is the daemon's side of a -t session's terminal while it is
	// open; size is the window size asked before the start.
	master *os.File
	size   *pty.Winsize
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

// sweepExecs ends what an earlier daemon's exec sessions and health checks
// left, then removes their folders: their sessions ended with it. Called
// with the data-root lock held.
func (d *Daemon) sweepExecs() {
	if n := d.endExecs(); n > 0 {
		d.log.Info("ended the commands of an earlier daemon's exec sessions", "count", n)
	}
	if err := os.RemoveAll(filepath.Join(d.cfg.ExecRoot, "execs")); err != nil {
		d.log.Warn("removing the exec folders of an earlier daemon", "err", err)
	}
}

// endExecs kills the command of every exec session and health check whose
// pid file is in the exec root, and returns how many it killed. runc exec
// waits for its command, but the command does not die with runc: after the
// daemon is gone no client can reach it again, and left alone it would run
// in the container for good (a `docker exec C sleep 1d`).
func (d *Daemon) endExecs() int {
	root := filepath.Join(d.Config().ExecRoot, "execs")
	ents, _ := os.ReadDir(root)
	n := 0
	for _, e := range ents {
		if pid, ok := execLeftover(filepath.Join(root, e.Name(), "pid")); ok && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// execLeftover reads a runc exec pid file and says whether its process
// still runs: in a liveswapd container's cgroup, started before runc wrote
// the file (a process that reuses the pid starts after it).
func execLeftover(pidFile string) (int, bool) {
	fi, err := os.Lstat(pidFile)
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	inContainer := false
	for _, cg := range procfs.Cgroups(pid) {
		inContainer = inContainer || strings.Contains(cg, "/liveswapd/")
	}
	started, ok := startedAt(pid)
	return pid, inContainer && ok && !started.After(fi.ModTime().Add(time.Second))
}

// startedAt is when pid started, from its start time in clock ticks after
// boot (USER_HZ is 100 on Linux) and the boot time in /proc/stat.
func startedAt(pid int) (time.Time, bool) {
	ticks := procfs.StartTime(pid)
	b, err := os.ReadFile("/proc/stat")
	if ticks == 0 || err != nil {
		return time.Time{}, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(boot, 0).Add(time.Duration(ticks) * 10 * time.Millisecond), true
		}
	}
	return time.Time{}, false
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
	spec, st := c.Snapshot()
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
	// With a terminal, runc (whose stdio is the daemon's pty) opens the
	// container's own and relays between them.
	p.Terminal = o.Tty
	p.ConsoleSize = consoleSize(o)
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

// consoleSize is the window size a -t exec asked for at create, if any.
func consoleSize(o container.ExecOptions) *specs.Box {
	if !o.Tty || o.ConsoleSize == nil || o.ConsoleSize[0] == 0 || o.ConsoleSize[1] == 0 || o.ConsoleSize[0] > 65535 || o.ConsoleSize[1] > 65535 {
		return nil
	}
	return &specs.Box{Height: o.ConsoleSize[0], Width: o.ConsoleSize[1]}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Exec is a handle on an exec session, for the API.
type Exec struct {
	d *Daemon
	s *execSession
}

// ExecCreate checks an exec request (what liveswapd does not honour is
// refused naming its flag), registers the session in c and returns its ID.
func (d *Daemon) ExecCreate(c *Container, o container.ExecOptions) (string, error) {
	var refused []string
	if o.Privileged {
		refused = append(refused, "--privileged (an exec runs with the container's own capabilities)")
	}
	if o.DetachKeys != "" {
		refused = append(refused, "--detach-keys (a session ends with its command or its client; it cannot be detached)")
	}
	if len(refused) > 0 {
		return "", fmt.Errorf("docker exec %s not supported by liveswapd; run it without %s: %w", strings.Join(refused, ", "), plural(len(refused), "it", "them"), ErrUnsupported)
	}
	if len(o.Cmd) == 0 {
		return "", fmt.Errorf("no exec command specified: %w", ErrInvalid)
	}
	spec, st := c.Snapshot()
	if st.Status != StatusRunning {
		return "", fmt.Errorf("Container %s is not running: %w", spec.ID, ErrConflict)
	}
	if _, _, err := resolveUser(spec.Root, o.User); err != nil {
		return "", err
	}
	s := &execSession{id: newID(), c: c, opts: o}
	if b := consoleSize(o); b != nil {
		s.size = &pty.Winsize{Rows: uint16(b.Height), Cols: uint16(b.Width)}
	}
	d.execs.add(s)
	d.event(c, events.Action("exec_create: "+strings.Join(o.Cmd, " ")), map[string]string{"execID": s.id})
	return s.id, nil
}

// Exec finds the exec session id.
func (d *Daemon) Exec(id string) (Exec, error) {
	s, err := d.execs.get(id)
	if err != nil {
		return Exec{}, err
	}
	return Exec{d, s}, nil
}

// ExecStreams are an attached client's side of an exec session: its input
// (the hijacked connection) and where the command's output goes (framed
// or raw, as the API decided).
type ExecStreams struct {
	In             io.Reader
	Stdout, Stderr io.Writer
}

// Start runs the session's command: detached, or attached, calling attach
// once the command is ready to get the client's streams, and returning
// when the command has ended. An error before attach is returned for the
// API to answer with; once attach is called (even if it fails), errors go
// to the client's Stderr and Start returns nil.
func (e Exec) Start(detach bool, attach func() (ExecStreams, error)) error {
	d, s := e.d, e.s
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return fmt.Errorf("exec %s has already been started: %w", s.id, ErrConflict)
	}
	s.started = true
	// A -t session's terminal is open (and sized) once the session counts
	// as started, so a resize never finds it missing.
	var master, slave *os.File
	var err error
	if s.opts.Tty {
		master, slave, err = openTerminal(s.size)
		s.master = master
	}
	s.mu.Unlock()
	if err != nil {
		s.finish(126)
		return err
	}
	cmd, cleanup, err := d.execCommand(s.c, s.opts, s.id)
	if err != nil {
		if slave != nil {
			slave.Close()
		}
		s.closeTerminal()
		s.finish(126)
		return err
	}
	if slave != nil {
		onTerminal(cmd, slave)
		defer slave.Close() // when the command never starts
	}
	// The command holds the slave; the daemon's copy closes once it runs,
	// so the master reads EIO when the command's side is gone.
	start := func() error {
		err := cmd.Start()
		if slave != nil {
			slave.Close()
		}
		return err
	}
	if detach {
		if err := start(); err != nil {
			cleanup()
			s.closeTerminal()
			s.finish(126)
			return fmt.Errorf("starting exec: %v: %w", err, ErrConflict)
		}
		s.begin(cmd)
		if master != nil {
			// Nobody reads a detached terminal: drain it so the command never
			// blocks on a full one.
			go io.Copy(io.Discard, master)
		}
		go func() {
			code := d.execExit(s, cmd.Wait(), cleanup)
			s.closeTerminal()
			s.finish(code)
		}()
		return nil
	}
	streams, err := attach()
	if err != nil {
		cleanup()
		s.closeTerminal()
		s.finish(126)
		return nil
	}
	stdout, stderr := streams.Stdout, streams.Stderr
	var stdin io.WriteCloser
	if master == nil {
		if s.opts.AttachStdout || !s.opts.AttachStderr {
			cmd.Stdout = stdout
		}
		if s.opts.AttachStderr || !s.opts.AttachStdout {
			cmd.Stderr = stderr
		}
		if s.opts.AttachStdin {
			if stdin, err = cmd.StdinPipe(); err != nil {
				cleanup()
				fmt.Fprintf(stderr, "starting exec: %v\n", err)
				s.finish(126)
				return nil
			}
		}
	}
	if err := start(); err != nil {
		cleanup()
		s.closeTerminal()
		fmt.Fprintf(stderr, "starting exec: %v\n", err)
		s.finish(126)
		return nil
	}
	s.begin(cmd)
	switch {
	case master != nil:
		s.relayTerminal(streams.In, stdout, master)
	case stdin != nil:
		// The client's end of input (CloseWrite) or hang-up is the command's
		// end of input.
		go func() {
			io.Copy(stdin, streams.In)
			stdin.Close()
		}()
	}
	// The exit code is recorded before the stream ends: the CLI asks for it
	// (GET /exec/ID/json) as soon as it reads the end.
	code := d.execExit(s, cmd.Wait(), cleanup)
	s.closeTerminal()
	s.finish(code)
	return nil
}

// ExecState is an exec session as GET /exec/ID/json shows it.
type ExecState struct {
	ID, ContainerID string
	Running         bool
	ExitCode        *int
	Pid             int
	Options         container.ExecOptions
}

// State is the session's state now; Pid is the command's in the
// container while it runs.
func (e Exec) State() ExecState {
	s := e.s
	spec, _ := s.c.Snapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	pid := s.pid
	if spec.Root != "" && s.running {
		// runc exec's child, the command in the container.
		if b, err := os.ReadFile(filepath.Join(e.d.Config().ExecRoot, "execs", s.id, "pid")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pid = n
			}
		}
	}
	return ExecState{ID: s.id, ContainerID: s.c.ID(), Running: s.running, ExitCode: s.exitCode, Pid: pid, Options: s.opts}
}

// Resize sets the window size of the session's terminal; one resized
// before its start gets the size when the terminal is opened.
func (e Exec) Resize(size pty.Winsize) error { return e.s.resize(size) }
