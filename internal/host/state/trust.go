package state

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrUntrusted means a file or folder liveswap would act on as root can be
// changed by another user: it is refused, never repaired.
var ErrUntrusted = errors.New("not trusted")

// maxLinks bounds the symbolic links followed while walking a path, as the
// kernel does (ELOOP after 40).
const maxLinks = 40

// untrusted wraps ErrUntrusted with what is wrong and the remedy.
func untrusted(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUntrusted, fmt.Sprintf(format, a...))
}

// who names a uid for a message: "uid 65534 (nobody)".
func who(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}

// trustedOwner: root or the user liveswap runs as (tests run it unprivileged).
func trustedOwner(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

// checkAncestor refuses a folder on the way to a trusted path that another
// user could use to replace what lies below it: owned by someone else, or
// writable by group or others without the sticky bit (as /tmp has).
func checkAncestor(path string, st *unix.Stat_t) error {
	if !trustedOwner(st.Uid) {
		return untrusted("%s is owned by %s: that user can replace anything below it (use a folder whose every parent is root-owned)", path, who(st.Uid))
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return untrusted("%s is writable by group or others (mode %04o) and not sticky: anyone there can replace what lies below it (`chmod go-w %s`, or use another folder)", path, st.Mode&0o7777, path)
	}
	return nil
}

// checkOwn refuses a file or folder that liveswap trusts itself (the state
// folder and what it holds, a binary it installs): it must belong to the
// user liveswap runs as and be writable by nobody else.
func checkOwn(what, path string, st *unix.Stat_t) error {
	if int(st.Uid) != os.Geteuid() {
		return untrusted("%s %s is owned by %s, want %s: liveswap runs as root and acts on what it reads there (`chown %d %s` if you made it, else remove it)",
			what, path, who(st.Uid), who(uint32(os.Geteuid())), os.Geteuid(), path)
	}
	if st.Mode&0o022 != 0 {
		return untrusted("%s %s is writable by group or others (mode %04o) (`chmod go-w %s` if you made it, else remove it)", what, path, st.Mode&0o7777, path)
	}
	return nil
}

// walk opens path as a directory (an O_PATH descriptor) without trusting
// anything on the way: every folder passed is checked with checkAncestor,
// every symbolic link must itself be owned by root (one in /tmp made by
// another user is refused) and is followed by hand, so no component can be
// swapped between the check and the use. It returns the descriptor and
// the path it resolved to.
func walk(path string) (int, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return -1, "", err
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	cur, parts, links := "/", strings.Split(abs, "/"), 0
	for len(parts) > 0 {
		name := parts[0]
		parts = parts[1:]
		if name == "" || name == "." {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			unix.Close(fd)
			return -1, "", &os.PathError{Op: "stat", Path: filepath.Join(cur, name), Err: err}
		}
		next := filepath.Join(cur, name)
		if name != ".." && !trustedOwner(st.Uid) {
			unix.Close(fd)
			return -1, "", untrusted("%s is owned by %s: that user can change what it names (use a path whose every part is root-owned)", next, who(st.Uid))
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if links++; links > maxLinks {
				unix.Close(fd)
				return -1, "", &os.PathError{Op: "open", Path: abs, Err: unix.ELOOP}
			}
			target, err := readlinkat(fd, name)
			if err != nil {
				unix.Close(fd)
				return -1, "", &os.PathError{Op: "readlink", Path: next, Err: err}
			}
			if filepath.IsAbs(target) {
				nfd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
				if err != nil {
					unix.Close(fd)
					return -1, "", err
				}
				unix.Close(fd)
				fd, cur = nfd, "/"
			}
			parts = append(strings.Split(target, "/"), parts...)
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			return -1, "", fmt.Errorf("%s is not a folder", next)
		}
		nfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, "", &os.PathError{Op: "open", Path: next, Err: err}
		}
		fd = nfd
		if name == ".." {
			cur = filepath.Dir(cur)
		} else {
			cur = next
		}
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, "", err
		}
		if err := checkAncestor(cur, &st); err != nil {
			unix.Close(fd)
			return -1, "", err
		}
	}
	return fd, cur, nil
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}

// CheckFolder says whether dir can be trusted to hold files liveswap acts
// on as root: nobody but root can replace dir or anything on the way to
// it (a sticky, root-owned folder such as /tmp counts as safe on the way).
func CheckFolder(dir string) error {
	fd, _, err := walk(dir)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// OpenTrusted opens path for reading without following a symbolic link,
// in a folder CheckFolder accepts, and checks the file is a regular file
// owned by the user liveswap runs as and not writable by anyone else. what
// names the file in messages ("new binary").
func OpenTrusted(what, path string) (*os.File, error) {
	dfd, dir, err := walk(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, filepath.Base(path), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, untrusted("%s %s is a symbolic link: liveswap does not follow one here (name the file itself)", what, path)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return openedFile(fd, what, filepath.Join(dir, filepath.Base(path)))
}

// openedFile wraps fd, just opened without following a link, as a file
// once it proved to be a regular file that checkOwn accepts; otherwise it
// closes fd.
func openedFile(fd int, what, path string) (*os.File, error) {
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, untrusted("%s %s is not a regular file (remove it, or name the file itself)", what, path)
	}
	if err := checkOwn(what, path, &st); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
