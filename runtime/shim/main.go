package shim

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/pidfd"
	"github.com/liveswap/liveswap/internal/host/procfs"
)

// Main runs `liveswapd-shim RUNDIR` (args are those after the program
// name) and returns the process exit code.
func Main(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: liveswapd-shim RUNDIR (started by liveswapd, not by hand)")
		return 2
	}
	s := &shim{dir: args[0]}
	if err := s.run(); err != nil {
		fmt.Fprintf(os.Stderr, "liveswapd-shim %s: %v\n", s.dir, err)
		return 1
	}
	return 0
}

type shim struct {
	dir  string
	spec Process
	oom  bool // the container's cgroup OOM-killed a process
}

// path names a run folder file relative to the working directory, which
// the daemon set to the run folder: it stays this run's folder even if the
// folder is renamed or replaced at its path.
func (s *shim) path(name string) string { return name }

func (s *shim) writeExit(code, sig int, msg string) error {
	return atomicfile.WriteJSON(s.path(ExitFile), Exit{Version: ProtoVersion, ExitCode: code, Signal: sig, Error: msg, OOMKilled: s.oom, FinishedAt: time.Now().UTC()}, 0o600)
}

func (s *shim) run() error {
	// The folder at our path must be the one we run in: if it was replaced
	// before we got here, this run was abandoned; record that in our own
	// folder and start nothing.
	here, err1 := os.Stat(".")
	there, err2 := os.Stat(s.dir)
	if err1 != nil || err2 != nil || !os.SameFile(here, there) {
		return s.writeExit(255, 0, "the run folder was replaced before the shim started; not starting the container")
	}
	if err := atomicfile.ReadJSON(s.path(ProcessFile), &s.spec); err != nil {
		return fmt.Errorf("reading the process spec: %w", err)
	}
	// A new session (the daemon already asked for one; harmless if so) and
	// subreaper, so orphans of the container are ours to reap and kill.
	unix.Setsid()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("becoming a child subreaper: %w", err)
	}
	// Wait for the daemon's go-ahead (it first moves us into our scope).
	// Non-blocking, so the wait parks in the poller instead of holding a
	// thread.
	unix.SetNonblock(3, true)
	syncPipe := os.NewFile(3, "sync")
	var one [1]byte
	n, _ := syncPipe.Read(one[:])
	syncPipe.Close()
	if n != 1 {
		return s.writeExit(255, 0, "liveswapd went away before the container was started")
	}

	lw, err := openLog(s.spec.LogPath, s.spec.LogMaxSize, s.spec.LogMaxFiles)
	if err != nil {
		s.writeExit(255, 0, fmt.Sprintf("opening log file: %v", err))
		return fmt.Errorf("opening log file: %w", err)
	}
	defer lw.close()

	outR, outW, err := os.Pipe()
	if err != nil {
		return s.writeExit(255, 0, fmt.Sprintf("creating pipes: %v", err))
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return s.writeExit(255, 0, fmt.Sprintf("creating pipes: %v", err))
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return s.writeExit(255, 0, fmt.Sprintf("opening %s: %v", os.DevNull, err))
	}
	var pid int
	if s.spec.Runc != nil {
		pid, err = s.startRunc(devnull, outW, errW)
		signal.Ignore(syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
		outW.Close()
		errW.Close()
		devnull.Close()
		if err != nil {
			var se *startError
			code := 128
			if errors.As(err, &se) {
				code = se.code
			}
			// runc printed its error on the container's stderr already.
			return s.writeExit(code, 0, err.Error())
		}
	} else {
		pid, err = s.startDirect(devnull, outW, errW, lw)
		var r *recorded
		if errors.As(err, &r) {
			return r.err
		}
		if err != nil {
			return err
		}
	}
	self, _ := procfs.Stat(os.Getpid())
	child, _ := procfs.Stat(pid)
	rec := Record{Version: ProtoVersion, ShimPid: os.Getpid(), ShimStart: self.Start, Pid: pid, PidStart: child.Start, StartedAt: time.Now().UTC()}
	if err := atomicfile.WriteJSON(s.path(RecordFile), rec, 0o600); err != nil {
		syscall.Kill(-pid, syscall.SIGKILL)
		return err
	}

	var copies sync.WaitGroup
	for _, p := range []struct {
		r      *os.File
		stream string
	}{{outR, "stdout"}, {errR, "stderr"}} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			lw.copyFrom(p.r, p.stream)
		}()
	}

	status := s.waitMain(pid)
	s.killRest(pid)
	s.oom = s.oomKilled()
	s.deleteRunc()
	drained := make(chan struct{})
	go func() { copies.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
		// A process outside our reach keeps a pipe open; do not wait for it.
	}
	lw.sync()

	code, sig := 0, 0
	switch {
	case status.Exited():
		code = status.ExitStatus()
	case status.Signaled():
		sig = int(status.Signal())
		code = 128 + sig
	}
	return s.writeExit(code, sig, "")
}

// waitMain waits for the container's main process to exit and returns its
// status. Orphans re-parented to the shim (a subreaper) are reaped on the
// way, every 10 s, so they do not pile up as zombies.
func (s *shim) waitMain(pid int) syscall.WaitStatus {
	var exited <-chan struct{}
	// Our unreaped child: the pid cannot be reused while we hold it.
	if fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
		exited = pidfd.Wait(fd)
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		if exited == nil {
			// No pidfd (old kernel): poll.
			time.Sleep(100 * time.Millisecond)
		} else {
			select {
			case <-exited:
			case <-tick.C:
			}
		}
		if st, done := reapAll(pid); done {
			return st
		}
	}
}

// reapAll reaps every exited child; done reports whether pid was among them.
func reapAll(pid int) (status syscall.WaitStatus, done bool) {
	for {
		var st syscall.WaitStatus
		got, err := syscall.Wait4(-1, &st, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || got <= 0 {
			return status, done
		}
		if got == pid {
			status, done = st, true
		}
	}
}

// killRest kills what is left of the container once its main process
// exited, as the end of a container's pid namespace would: its process
// group, then every orphan that was reparented to us.
func (s *shim) killRest(pid int) {
	syscall.Kill(-pid, syscall.SIGKILL)
	me := os.Getpid()
	for i := 0; i < 50; i++ {
		kids := procfs.Children(me)
		if len(kids) == 0 {
			return
		}
		for _, k := range kids {
			syscall.Kill(k, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
		reapAll(0)
	}
}

// startDirect starts the container process itself (image host: no
// isolation). A start failure is recorded in exit.json and returned as
// *recorded.
func (s *shim) startDirect(devnull, outW, errW *os.File, lw *logWriter) (int, error) {
	argv0, err := LookPath(s.spec.Root, s.spec.Args[0], s.spec.Env)
	if err != nil {
		code := 127
		if errors.Is(err, os.ErrPermission) {
			code = 126
		}
		lw.write("stderr", []byte(err.Error()+"\n"))
		return 0, &recorded{s.writeExit(code, 0, err.Error())}
	}
	cwd := s.spec.Cwd
	if cwd == "" {
		cwd = "/"
	}
	attr := &syscall.ProcAttr{
		Dir:   cwd,
		Env:   s.spec.Env,
		Files: []uintptr{devnull.Fd(), outW.Fd(), errW.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	if s.spec.UID != uint32(os.Getuid()) || s.spec.GID != uint32(os.Getgid()) || len(s.spec.Groups) > 0 {
		attr.Sys.Credential = &syscall.Credential{Uid: s.spec.UID, Gid: s.spec.GID, Groups: s.spec.Groups}
	}
	pid, err := syscall.ForkExec(argv0, s.spec.Args, attr)
	// Only now, as ignored signals stay ignored across exec: the container
	// must get default dispositions. No signal.Notify: it costs an OS thread
	// per shim, and shims are many (exits are seen through a pidfd instead
	// of SIGCHLD). The daemon signals the container itself, and a stop of a
	// whole scope signals the container too, whose exit the shim records.
	signal.Ignore(syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	outW.Close()
	errW.Close()
	devnull.Close()
	if err != nil {
		code := 127
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			code = 126
		}
		msg := fmt.Sprintf("starting %q: %v", s.spec.Args[0], err)
		lw.write("stderr", []byte(msg+"\n"))
		return 0, &recorded{s.writeExit(code, 0, msg)}
	}
	return pid, nil
}

// recorded is a start failure already recorded in exit.json; err is that
// of writing the record.
type recorded struct{ err error }

func (r *recorded) Error() string { return fmt.Sprintf("start failure recorded: %v", r.err) }
