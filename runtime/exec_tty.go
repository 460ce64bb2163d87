package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/creack/pty"
)

// An exec with -t gets a terminal the daemon opens (/dev/ptmx): the slave
// is the controlling terminal of the command the daemon starts, which is
// `runc exec` for a container run through runc, the command itself for
// image host. runc, given a terminal for its own stdio and a process with
// Terminal set, opens the container's pty inside the container (its own
// devpts), relays between the two, and passes a window size change of its
// terminal (SIGWINCH, which the kernel sends when the daemon sets the
// master's size) on to the container's. runc is not asked for
// --console-socket: runc 1.1 accepts it only with --detach, and a detached
// exec's command is adopted by a subreaper, not the daemon, which then
// could not learn its exit code.

// openTerminal opens a pty pair sized h x w (0 leaves the kernel's
// default): the daemon keeps the master, the command gets the slave.
func openTerminal(size *pty.Winsize) (master, slave *os.File, err error) {
	master, slave, err = pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("opening a terminal for exec -t: %v", err)
	}
	if size != nil {
		if err := pty.Setsize(master, size); err != nil {
			master.Close()
			slave.Close()
			return nil, nil, fmt.Errorf("sizing the terminal of exec -t: %v", err)
		}
	}
	return master, slave, nil
}

// onTerminal makes the slave the command's stdio and controlling
// terminal, in a session of its own; an image host command keeps its
// credentials.
func onTerminal(cmd *exec.Cmd, slave *os.File) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
}

// relayTerminal copies the client's input to the master until the client
// ends its input (EOF: the command keeps its terminal) or hangs up (the
// master is closed: the command's session gets SIGHUP), and the master's
// output to the client until the command and everything holding the
// terminal ended (EIO once every slave is closed).
func (s *execSession) relayTerminal(in io.Reader, out io.Writer, master *os.File) {
	go func() {
		if _, err := io.Copy(master, in); err != nil && !errors.Is(err, os.ErrClosed) {
			s.closeTerminal()
		}
	}()
	io.Copy(out, master)
}

// closeTerminal hangs the session's terminal up once.
func (s *execSession) closeTerminal() {
	s.mu.Lock()
	m := s.master
	s.master = nil
	s.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// resize sets the window size of a session's terminal; one resized before
// its start gets the size when the terminal is opened.
func (s *execSession) resize(size pty.Winsize) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.opts.Tty:
		return fmt.Errorf("exec %s has no terminal (it was created without -t); only a -t exec can be resized: %w", s.id, ErrConflict)
	case !s.started:
		s.size = &size
		return nil
	case s.master == nil:
		return fmt.Errorf("exec %s is not running: its terminal is closed: %w", s.id, ErrConflict)
	}
	if err := pty.Setsize(s.master, &size); err != nil {
		return fmt.Errorf("resizing the terminal of exec %s: %v", s.id, err)
	}
	return nil
}
