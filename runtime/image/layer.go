package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Whiteout markers of the OCI image layer format (and docker's).
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// decompress returns the uncompressed stream of a layer or archive: plain
// tar or gzip; other compressions are refused by name.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return gzip.NewReader(br)
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		return nil, fmt.Errorf("zstd-compressed layers are not supported by liveswapd; save the image uncompressed or gzip-compressed: %w", ErrInvalid)
	case len(magic) >= 3 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h':
		return nil, fmt.Errorf("bzip2-compressed archives are not supported by liveswapd; use a plain or gzip-compressed tar: %w", ErrInvalid)
	case len(magic) >= 4 && magic[0] == 0xfd && magic[1] == '7' && magic[2] == 'z' && magic[3] == 'X':
		return nil, fmt.Errorf("xz-compressed archives are not supported by liveswapd; use a plain or gzip-compressed tar: %w", ErrInvalid)
	}
	return br, nil
}

// cleanEntry turns a tar entry name into a path relative to the root, or
// "" for the root itself; a name that climbs out of the root is refused.
func cleanEntry(name string) (string, error) {
	p := path.Clean("/" + name)
	if strings.Contains(name, "..") {
		for _, part := range strings.Split(name, "/") {
			if part == ".." {
				return "", fmt.Errorf("layer entry %q climbs out of the image root: %w", name, ErrInvalid)
			}
		}
	}
	return strings.TrimPrefix(p, "/"), nil
}

// applyLayer unpacks one layer (plain or gzip tar) onto the root folder
// dir, honouring whiteouts: ".wh.NAME" removes NAME from the layers below,
// ".wh..wh..opq" empties its folder of what the layers below put there.
// Every path is resolved inside dir as a container sees it (resolveDir):
// a symlink of an earlier layer, even one to an absolute path such as
// var/run -> /run, leads to the same place in the image, never on the
// host; an entry named with ".." fails the load. It returns the sha256 of the uncompressed layer
// (its diff ID) and the bytes of file content written.
func applyLayer(dir string, r io.Reader) (diffID string, size int64, err error) {
	plain, err := decompress(r)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", 0, err
	}
	defer root.Close()
	size, err = unpack(root, io.TeeReader(plain, h))
	if err != nil {
		return "", 0, err
	}
	// The digest covers the whole stream, padding after the tar's end too.
	io.Copy(io.Discard, io.TeeReader(plain, h))
	return digestOf(h), size, nil
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

func unpack(root *os.Root, r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	// Paths this layer wrote (resolved): an opaque marker empties its
	// folder of the lower layers' entries only.
	mine := map[string]bool{}
	var opaque []string
	var size int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return size, fmt.Errorf("reading layer: %v: %w", err, ErrInvalid)
		}
		name, err := cleanEntry(hdr.Name)
		if err != nil {
			return size, err
		}
		if name == "" {
			continue // the root folder itself keeps its mode
		}
		dir, base := path.Split(name)
		switch {
		case base == opaqueMarker:
			// Resolved once the layer is read: its folder may come later.
			opaque = append(opaque, dir)
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			rdir, err := resolveDir(root, dir, false)
			if errors.Is(err, fs.ErrNotExist) {
				continue // nothing below to hide
			}
			if err == nil {
				err = root.RemoveAll(path.Join(rdir, strings.TrimPrefix(base, whiteoutPrefix)))
			}
			if err != nil {
				return size, fmt.Errorf("whiteout %s: %w", hdr.Name, err)
			}
			continue
		}
		rdir, err := resolveDir(root, dir, true)
		if err != nil {
			return size, fmt.Errorf("layer entry %s: %w", hdr.Name, err)
		}
		target := path.Join(rdir, base)
		mine[target] = true
		n, err := writeEntry(root, target, hdr, tr)
		size += n
		if err != nil {
			return size, fmt.Errorf("layer entry %s: %w", hdr.Name, err)
		}
	}
	for _, dir := range opaque {
		rdir, err := resolveDir(root, dir, false)
		if err != nil {
			continue // no folder: nothing below to hide
		}
		ents, err := fs.ReadDir(root.FS(), orDot(rdir))
		if err != nil {
			continue
		}
		for _, e := range ents {
			p := path.Join(rdir, e.Name())
			if !mine[p] {
				if err := root.RemoveAll(p); err != nil {
					return size, fmt.Errorf("opaque whiteout of %s: %w", dir, err)
				}
			}
		}
	}
	return size, nil
}

// maxSymlinks is how many symlinks one path may go through, as Linux's
// MAXSYMLINKS.
const maxSymlinks = 40

// resolveDir returns the folder dir (relative to the root, "" for the
// root itself) as a container sees it: every symlink on the way, absolute
// or relative, is followed inside the root, an absolute target starting
// again at the root and ".." stopping there (openat2's RESOLVE_IN_ROOT).
// The answer holds no symlink, so os.Root acts on it without meeting one.
// With create, missing folders are made (0755), as a layer's entries imply
// their parents; without, a missing one is fs.ErrNotExist.
func resolveDir(root *os.Root, dir string, create bool) (string, error) {
	resolved := ""
	todo := strings.Split(dir, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			// The root is its own parent.
			i := strings.LastIndex(resolved, "/")
			resolved = resolved[:max(i, 0)]
			continue
		}
		next := path.Join(resolved, c)
		fi, err := root.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := root.Mkdir(next, 0o755); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return "", fmt.Errorf("more than %d symlinks on the way to /%s (a loop? the last is /%s): %w", maxSymlinks, strings.TrimSuffix(dir, "/"), next, unix.ELOOP)
			}
			link, err := root.Readlink(next)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(link, "/") {
				resolved = ""
			}
			todo = append(strings.Split(link, "/"), todo...)
			continue
		case !fi.IsDir():
			return "", fmt.Errorf("/%s is not a folder: %w", next, unix.ENOTDIR)
		}
		resolved = next
	}
	return resolved, nil
}

func orDot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// writeEntry creates one entry, replacing what a lower layer had there
// (a folder is kept if the entry is a folder too).
func writeEntry(root *os.Root, name string, hdr *tar.Header, r io.Reader) (int64, error) {
	mode := hdr.FileInfo().Mode()
	if old, err := root.Lstat(name); err == nil && !(old.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := root.RemoveAll(name); err != nil {
			return 0, err
		}
	}
	var n int64
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return 0, err
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return 0, err
		}
		n, err = io.Copy(f, r)
		if err == nil {
			err = setXattrs(f, hdr)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, err
		}
	case tar.TypeSymlink:
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return 0, err
		}
		return 0, root.Lchown(name, hdr.Uid, hdr.Gid)
	case tar.TypeLink:
		target, err := cleanEntry(hdr.Linkname)
		if err != nil {
			return 0, err
		}
		// The target's folders are resolved inside the root too; its
		// last name is not followed (link(2)). A hard link shares its
		// target's inode, mode and owner.
		tdir, tbase := path.Split(target)
		rdir, err := resolveDir(root, tdir, false)
		if err != nil {
			return 0, fmt.Errorf("hard link target %s: %w", hdr.Linkname, err)
		}
		return 0, root.Link(path.Join(rdir, tbase), name)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := mknod(root, name, hdr); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("tar entry type %q is not supported: %w", hdr.Typeflag, ErrInvalid)
	}
	// Owner before mode: chown clears the setuid and setgid bits.
	if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
		return n, err
	}
	if err := root.Chmod(name, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return n, err
	}
	if hdr.Typeflag != tar.TypeDir {
		root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	}
	return n, nil
}

// mknod creates a device or fifo in its folder, opened inside the root.
func mknod(root *os.Root, name string, hdr *tar.Header) error {
	dir, base := path.Split(name)
	if dir == "" {
		dir = "."
	}
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	return unix.Mknodat(int(d.Fd()), base, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
}

// setXattrs applies the extended attributes a layer records (file
// capabilities such as ping's cap_net_raw).
func setXattrs(f *os.File, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Fsetxattr(int(f.Fd()), name, []byte(v), 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	return nil
}
