// Package state holds what liveswap keeps on a host and trusts as root:
// the state folder (journal, snapshots), checked and opened so that no
// other user can change what it reads (folder.go, trust.go); the lock of
// each state folder and the locks of each unit and file a run changes,
// shared by every state folder (taken with flock so that a killed liveswap
// never leaves one held); and the bounded reading of the journal.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// DefaultDir holds the journal, the lock and per-run files.
const DefaultDir = "/var/lib/liveswap"

// LockName is the lock file under the state folder.
const LockName = "lock"

// JournalName is the journal file under the state folder.
const JournalName = "journal.jsonl"

// DefaultLockDir holds one lock per unit and per file an upgrade changes,
// whatever state folder the run uses. /run is emptied at boot, as a lock
// should be.
const DefaultLockDir = "/run/liveswap/locks"

// LockDirEnv names another folder for those locks (tests, which run many
// targets at once, point it at their own).
const LockDirEnv = "LIVESWAP_LOCK_DIR"

// Dir is dir, or DefaultDir when dir is empty.
func Dir(dir string) string {
	if dir == "" {
		return DefaultDir
	}
	return dir
}

// LockDir is dir, else $LIVESWAP_LOCK_DIR, else DefaultLockDir.
func LockDir(dir string) string {
	if dir != "" {
		return dir
	}
	if d := os.Getenv(LockDirEnv); d != "" {
		return d
	}
	return DefaultLockDir
}

// LockPath is the lock file of dir ("" means DefaultDir).
func LockPath(dir string) string { return filepath.Join(Dir(dir), LockName) }

// ErrLocked means another liveswap holds the lock.
var ErrLocked = errors.New("another liveswap upgrade is running")

// Owner is who holds a lock, as written in it.
type Owner struct {
	PID      int    `json:"pid"`
	StateDir string `json:"state_dir"`
}

func (o Owner) String() string {
	if o.PID == 0 {
		return "another process"
	}
	s := "pid " + strconv.Itoa(o.PID)
	if o.StateDir != "" {
		s += " (state dir " + o.StateDir + ")"
	}
	return s
}

// Lock is a set of held locks.
type Lock struct{ files []*os.File }

// Acquire takes the lock of the state folder dir without waiting: one run
// at a time writes its journal.
func Acquire(dir string) (*Lock, error) {
	f, err := Open(dir, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return acquire(f, []string{LockName}, map[string]string{LockName: "state folder " + f.Path}, f.Path)
}

// Target is one thing a run changes that no other run may change at the
// same time: a unit or a file. ID names it ("unit user docker.service",
// "file /usr/bin/dockerd").
type Target struct{ Kind, ID string }

func (t Target) String() string { return t.Kind + " " + t.ID }

// lockName turns a target into a file name: '/' becomes '-', bytes outside
// [A-Za-z0-9_.@:] become \xNN (so no two targets share a name), and a name
// too long for a file keeps its head and a digest.
func (t Target) lockName() string {
	var b strings.Builder
	for _, c := range []byte(t.ID) {
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '@', c == ':':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	name := t.Kind + "-" + b.String()
	if len(name) > 200 {
		sum := sha256.Sum256([]byte(t.Kind + " " + t.ID))
		name = name[:100] + "-" + hex.EncodeToString(sum[:16])
	}
	return name + ".lock"
}

// AcquireTargets takes the lock of every target under lockDir ("" is
// LockDir's default), all or none, without waiting. Each lock records this
// process and stateDir, so that a run refused names who holds the target.
// lockDir is checked as a state folder is: root-owned all the way.
func AcquireTargets(lockDir, stateDir string, targets []Target) (*Lock, error) {
	lockDir = LockDir(lockDir)
	f, err := Open(lockDir, true)
	if err != nil {
		return nil, fmt.Errorf("lock folder: %w (or set %s)", err, LockDirEnv)
	}
	defer f.Close()
	names, what := targetNames(targets)
	return acquire(f, names, what, stateDir)
}

func targetNames(targets []Target) ([]string, map[string]string) {
	what := map[string]string{}
	var names []string
	for _, t := range targets {
		n := t.lockName()
		if _, dup := what[n]; !dup {
			names = append(names, n)
		}
		what[n] = t.String()
	}
	sort.Strings(names) // one order for every run
	return names, what
}

func acquire(f *Folder, names []string, what map[string]string, stateDir string) (*Lock, error) {
	l := &Lock{}
	for _, name := range names {
		lf, err := f.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			l.Release()
			return nil, fmt.Errorf("lock %s: %w", f.Name(name), err)
		}
		if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			by := readOwner(lf)
			lf.Close()
			l.Release()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: %s is locked by %s: wait for it to end, or see `liveswap status` there (lock %s)",
					ErrLocked, what[name], by, f.Name(name))
			}
			return nil, fmt.Errorf("lock %s: %w", f.Name(name), err)
		}
		b, _ := json.Marshal(Owner{PID: os.Getpid(), StateDir: stateDir})
		lf.Truncate(0)
		lf.WriteAt(append(b, '\n'), 0)
		l.files = append(l.files, lf)
	}
	return l, nil
}

// readOwner reads who holds a lock file; a lock written before it recorded
// a state folder holds the PID alone.
func readOwner(f *os.File) Owner {
	var o Owner
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	if json.Unmarshal(b, &o) != nil {
		o.PID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return o
}

// Release drops the locks; a nil Lock is a no-op.
func (l *Lock) Release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	l.files = nil
}

// Holder says whether the lock of the state folder dir is held right now,
// without taking or waiting for it, and by whom. A lock file that does not
// exist is not held.
func Holder(dir string) (held bool, by Owner, err error) {
	f, err := Open(dir, false)
	if errors.Is(err, os.ErrNotExist) {
		return false, Owner{}, nil
	}
	if err != nil {
		return false, Owner{}, err
	}
	defer f.Close()
	return holder(f, LockName)
}

// TargetHolder is Holder for the locks of targets under lockDir: the
// first held one and by whom.
func TargetHolder(lockDir string, targets []Target) (held bool, target string, by Owner, err error) {
	f, err := Open(LockDir(lockDir), false)
	if errors.Is(err, os.ErrNotExist) {
		return false, "", Owner{}, nil
	}
	if err != nil {
		return false, "", Owner{}, err
	}
	defer f.Close()
	names, what := targetNames(targets)
	for _, n := range names {
		held, by, err := holder(f, n)
		if err != nil || held {
			return held, what[n], by, err
		}
	}
	return false, "", Owner{}, nil
}

func holder(f *Folder, name string) (bool, Owner, error) {
	lf, err := f.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, Owner{}, nil
	}
	if err != nil {
		return false, Owner{}, err
	}
	defer lf.Close()
	// A shared, non-blocking probe fails only while an upgrade holds the
	// lock exclusively.
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, readOwner(lf), nil
		}
		return false, Owner{}, fmt.Errorf("flock %s: %w", lf.Name(), err)
	}
	syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return false, Owner{}, nil
}
