package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/host/procfs"
)

// ProcInfo is what /proc says about a pid right now; Start 0 means no
// such process.
type ProcInfo = procfs.Proc

// openGuarded opens a pidfd on pid and checks, after opening it, that the
// process is the one started at start: a pidfd pins the process, so once
// the check passes, signals sent through it cannot reach a recycled pid.
func openGuarded(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, errProcessGone
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	info, err := procfs.Stat(pid)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	if !info.Exists || info.State == 'Z' || info.State == 'X' {
		unix.Close(fd)
		return -1, errProcessGone
	}
	if start != 0 && info.Start != start {
		unix.Close(fd)
		return -1, fmt.Errorf("pid %d was reused (start time %d, expected %d): %w", pid, info.Start, start, errProcessGone)
	}
	return fd, nil
}

var errProcessGone = errors.New("process is gone")

// signalGuarded sends sig to pid if it is still the process started at start.
func signalGuarded(pid int, start uint64, sig syscall.Signal) error {
	fd, err := openGuarded(pid, start)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errProcessGone
		}
		return fmt.Errorf("signalling pid %d with %v: %w", pid, sig, err)
	}
	return nil
}

// killSession SIGKILLs a shim, if it is still the process started at
// start, and every process of its session: the container it may have
// forked is in that session, in a process group of its own. The pidfd
// pins the shim, so no other session can have its pid as id meanwhile.
func killSession(shimPid int, start uint64) error {
	fd, err := openGuarded(shimPid, start)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, pid := range procfs.PIDs() {
		if pid != shimPid && sessionOf(pid) == shimPid {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if err := unix.PidfdSendSignal(fd, syscall.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing shim %d: %w", shimPid, err)
	}
	return nil
}

// sessionOf returns the session id of pid (field 6 of /proc/PID/stat), 0
// if unknown.
func sessionOf(pid int) int {
	b, err := procfs.ReadFile(pid, "stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 4 {
		return 0
	}
	sid, _ := strconv.Atoi(f[3])
	return sid
}

// Descendants returns pid and all its descendants.
func Descendants(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out) && i < 4096; i++ {
		out = append(out, procfs.Children(out[i])...)
	}
	return out
}
