// Package state names liveswap's state folder on a host and holds its
// lock: one upgrade at a time, taken with flock so that a killed liveswap
// never leaves it held.
package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultDir holds the journal, the lock and per-run files.
const DefaultDir = "/var/lib/liveswap"

// LockName is the lock file under the state folder.
const LockName = "lock"

// JournalName is the journal file under the state folder.
const JournalName = "journal.jsonl"

// Dir is dir, or DefaultDir when dir is empty.
func Dir(dir string) string {
	if dir == "" {
		return DefaultDir
	}
	return dir
}

// LockPath is the lock file of dir ("" means DefaultDir).
func LockPath(dir string) string { return filepath.Join(Dir(dir), LockName) }

// ErrLocked means another liveswap holds the lock.
var ErrLocked = errors.New("another liveswap upgrade is running on this host")

// Lock is a held upgrade lock.
type Lock struct{ f *os.File }

// Acquire takes the lock of dir without waiting and writes this process's
// PID into it for whoever finds it held.
func Acquire(dir string) (*Lock, error) {
	dir = Dir(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state folder %s: %w (set --state-dir to a writable folder)", dir, err)
	}
	path := LockPath(dir)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (lock %s is held; wait for it, or see `liveswap status`)", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return &Lock{f: f}, nil
}

// Release drops the lock; a nil Lock is a no-op.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// Holder says whether the lock of dir is held right now, without taking or
// waiting for it; holder is the PID written in it ("" when unknown). A lock
// file that does not exist is not held.
func Holder(dir string) (held bool, holder string, err error) {
	path := LockPath(dir)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	defer f.Close()
	// A shared, non-blocking probe fails only while an upgrade holds the
	// lock exclusively.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			return true, strings.TrimSpace(string(b)), nil
		}
		return false, "", fmt.Errorf("flock %s: %w", path, err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, "", nil
}
