package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ProcInfo is what /proc says about a pid right now.
type ProcInfo struct {
	Start  uint64 // start time in clock ticks since boot; 0 = no such process
	State  byte   // R, S, Z, ...
	PPid   int
	Pgrp   int
	Comm   string
	Uid    int
	Ticks  uint64 // utime+stime
	Exists bool
}

// readProc reads /proc/PID/stat. A missing process is not an error.
func readProc(pid int) (ProcInfo, error) {
	if pid <= 0 {
		return ProcInfo{}, nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return ProcInfo{}, nil
		}
		return ProcInfo{}, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	return parseStat(string(b))
}

func parseStat(s string) (ProcInfo, error) {
	open := strings.IndexByte(s, '(')
	i := strings.LastIndexByte(s, ')')
	if i < 0 || open < 0 || open > i {
		return ProcInfo{}, fmt.Errorf("malformed /proc stat line %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return ProcInfo{}, fmt.Errorf("short /proc stat line %q", s)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return ProcInfo{}, fmt.Errorf("bad start time in /proc stat line: %w", err)
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return ProcInfo{Start: start, State: f[0][0], PPid: ppid, Pgrp: pgrp, Comm: s[open+1 : i], Ticks: ut + st, Exists: true}, nil
}

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
	info, err := readProc(pid)
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

// waitPidfd returns a channel closed when the process behind pidfd exits.
// It uses Go's netpoller (a pidfd polls readable on exit), so thousands of
// watched shims cost no thread each. It takes ownership of pidfd.
func waitPidfd(pidfd int) <-chan struct{} {
	done := make(chan struct{})
	f := os.NewFile(uintptr(pidfd), "pidfd")
	go func() {
		defer close(done)
		defer f.Close()
		rc, err := f.SyscallConn()
		if err != nil {
			return
		}
		// Returning false parks the goroutine in the poller until the fd is
		// readable; polling with a zero timeout filters spurious wake-ups.
		_ = rc.Read(func(fd uintptr) bool {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, 0)
			return err == nil && n > 0
		})
	}()
	return done
}
