package image

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// probeOverlay tries an overlay mount under dir: where it works, container
// roots are overlays on the image's folder; where it does not (an old
// kernel, a data-root on overlay or another file system overlay cannot sit
// on, no privilege), they are copies.
func probeOverlay(dir string) (Driver, string) {
	p, err := os.MkdirTemp(dir, "probe-")
	if err != nil {
		return Copy, "cannot probe overlay: " + err.Error()
	}
	defer os.RemoveAll(p)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		os.Mkdir(filepath.Join(p, d), 0o700)
	}
	if err := unix.Mount("overlay", filepath.Join(p, "merged"), "overlay", 0, overlayOpts(filepath.Join(p, "lower"), filepath.Join(p, "upper"), filepath.Join(p, "work"))); err != nil {
		return Copy, "overlay mount refused here (" + err.Error() + "): each container gets a copy of its image"
	}
	unix.Unmount(filepath.Join(p, "merged"), unix.MNT_DETACH)
	return Overlay, "each container's root is an overlay: the image's folder below, the container's own folder above"
}

func overlayOpts(lower, upper, work string) string {
	return "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
}

// Prepare makes the root of a container of image id in the folder dir
// (dir/rootfs; with overlay also dir/upper and dir/work) and returns it.
func (s *Store) Prepare(id, dir string) (string, error) {
	root := filepath.Join(dir, "rootfs")
	if s.driver == Overlay {
		for _, d := range []string{"upper", "work", "rootfs"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return "", err
			}
		}
		return root, s.Mount(id, dir)
	}
	if err := copyTree(s.RootFS(id), root); err != nil {
		os.RemoveAll(root)
		return "", fmt.Errorf("copying image %s into the container: %w", short(id), err)
	}
	return root, nil
}

// Mount mounts the overlay root of a container made by Prepare, unless it
// is mounted already (the daemon restarted, the mount stayed). A copy
// needs nothing.
func (s *Store) Mount(id, dir string) error {
	root := filepath.Join(dir, "rootfs")
	if !fileExists(filepath.Join(dir, "upper")) || mounted(root) {
		return nil
	}
	if err := unix.Mount("overlay", root, "overlay", 0, overlayOpts(s.RootFS(id), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))); err != nil {
		return fmt.Errorf("mounting the container's overlay root on %s: %w", root, err)
	}
	return nil
}

// Unmount undoes Mount before the container's folder is removed, so the
// removal cannot reach through the mount.
func Unmount(dir string) error {
	root := filepath.Join(dir, "rootfs")
	for mounted(root) {
		if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting %s: %w", root, err)
		}
	}
	return nil
}

// mounted reports whether p is a mount point: its device differs from its
// parent's (an overlay has its own).
func mounted(p string) bool {
	var a, b unix.Stat_t
	if unix.Lstat(p, &a) != nil || unix.Lstat(filepath.Dir(p), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// copyTree copies src to dst keeping modes, owners, times and symlinks;
// hard links become separate files. Both sides are the daemon's own
// folders.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		switch m := fi.Mode(); {
		case m.IsDir():
			if err := os.Mkdir(to, 0o700); err != nil && !os.IsExist(err) {
				return err
			}
		case m&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(t, to); err != nil {
				return err
			}
			if st != nil {
				os.Lchown(to, int(st.Uid), int(st.Gid))
			}
			return nil
		case m.IsRegular():
			if err := copyFile(p, to); err != nil {
				return err
			}
		default:
			if st == nil {
				return fmt.Errorf("%s: cannot copy a %v", p, m.Type())
			}
			if err := unix.Mknod(to, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		if st != nil {
			if err := os.Lchown(to, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if err := os.Chmod(to, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
		return os.Chtimes(to, fi.ModTime(), fi.ModTime())
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
