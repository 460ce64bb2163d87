// Package pidfd watches processes through pidfds (Linux 5.3+), which
// cannot be confused with a later process that reuses the pid.
package pidfd

import (
	"os"

	"golang.org/x/sys/unix"
)

// Wait returns a channel closed when the process behind fd exits. It uses
// Go's netpoller (a pidfd polls readable on exit), so thousands of watched
// processes cost no thread each. It takes ownership of fd, which must be
// non-blocking.
func Wait(fd int) <-chan struct{} {
	done := make(chan struct{})
	f := os.NewFile(uintptr(fd), "pidfd")
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
