package state

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Folder is a state folder that was checked and is held open: every file
// in it is opened relative to its descriptor and without following a
// symbolic link, so what was checked is what is used.
type Folder struct {
	// Path is the folder as it resolved when it was opened.
	Path string
	fd   int
}

// Open checks and opens the state folder dir ("" is DefaultDir), making it
// (0700) when create is set and it is missing. It refuses, with a remedy,
// a folder that another user could change: it and everything in it must
// belong to the user liveswap runs as (root) and be writable by no one
// else, and every folder above it must be root-owned and not writable by
// others unless sticky (as /tmp). A refused folder is left as it was. A
// missing folder without create is an error matching os.ErrNotExist.
func Open(dir string, create bool) (*Folder, error) {
	dir = Dir(dir)
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state folder %s: %w (set --state-dir to a writable folder)", dir, err)
		}
	}
	pfd, path, err := walk(dir)
	if errors.Is(err, ErrUntrusted) {
		return nil, fmt.Errorf("state folder %s: %w; liveswap keeps its state only where root alone can write (the default %s, or another root-owned 0700 folder as --state-dir)", dir, err, DefaultDir)
	}
	if err != nil {
		return nil, fmt.Errorf("state folder %s: %w", dir, err)
	}
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	unix.Close(pfd)
	if err != nil {
		return nil, fmt.Errorf("state folder %s: %w", dir, err)
	}
	f := &Folder{Path: path, fd: fd}
	if err := f.check(); err != nil {
		f.Close()
		return nil, fmt.Errorf("state folder %s: %w", dir, err)
	}
	return f, nil
}

// check applies checkOwn to the folder and to everything directly in it;
// a symbolic link in it is refused whoever made it.
func (f *Folder) check() error {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return err
	}
	if err := checkOwn("state folder", f.Path, &st); err != nil {
		return err
	}
	d, err := unix.Openat(f.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(d), f.Path)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := unix.Fstatat(f.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed meanwhile (a temporary file)
			}
			return err
		}
		path := f.Path + "/" + name
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return untrusted("%s is a symbolic link: nothing in a state folder may point elsewhere (remove it: `rm %s`)", path, path)
		}
		if err := checkOwn("file", path, &st); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the folder's descriptor; a nil Folder is a no-op.
func (f *Folder) Close() error {
	if f == nil || f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}

// Name is the path of name in the folder, for messages.
func (f *Folder) Name(name string) string { return f.Path + "/" + name }

// OpenFile opens name, a plain name in the folder, relative to the
// folder's descriptor and never through a symbolic link; an existing file
// must be regular, belong to the user liveswap runs as and be writable by
// no one else.
func (f *Folder) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return nil, fmt.Errorf("state file %q: not a plain file name", name)
	}
	fd, err := unix.Openat(f.fd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, uint32(perm.Perm()))
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, untrusted("%s is a symbolic link: nothing in a state folder may point elsewhere (remove it: `rm %s`)", f.Name(name), f.Name(name))
		}
		return nil, &os.PathError{Op: "open", Path: f.Name(name), Err: err}
	}
	return openedFile(fd, "file", f.Name(name))
}

// ErrTooLarge means a state file is larger than its reader accepts.
var ErrTooLarge = errors.New("too large")

// ReadFile reads name whole; a file over limit bytes is an error that
// matches ErrTooLarge.
func (f *Folder) ReadFile(name string, limit int64) ([]byte, error) {
	file, err := f.OpenFile(name, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(name), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w: over %d bytes (liveswap never writes one so large: move it aside and see `liveswap status`)", f.Name(name), ErrTooLarge, limit)
	}
	return b, nil
}

// WriteFile replaces name with data (mode perm) atomically: a new hidden
// file made with O_EXCL, fsynced, renamed over name, the folder fsynced.
func (f *Folder) WriteFile(name string, data []byte, perm os.FileMode) error {
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	file, err := f.OpenFile(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(name), err)
	}
	_, err = file.Write(data)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(f.fd, tmp, f.fd, name)
	}
	if err != nil {
		unix.Unlinkat(f.fd, tmp, 0)
		return fmt.Errorf("writing %s: %w", f.Name(name), err)
	}
	return f.Sync()
}

// Sync makes the folder's entries durable.
func (f *Folder) Sync() error {
	if err := unix.Fsync(f.fd); err != nil {
		return fmt.Errorf("syncing folder %s: %w", f.Path, err)
	}
	return nil
}
