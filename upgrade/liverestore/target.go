package liverestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ConfigTarget is the file Enable edits for the daemon.json at path: the
// file itself, or the file a symbolic link (or a chain of them) names, so
// that the link stays a link and the file the daemon reads is the one
// changed. Both the file and its folder must be owned by root and not
// writable by others: whoever can write either could change what a root
// daemon reads between the check and the reload. A path that does not
// exist yet is checked through its folder.
func ConfigTarget(path string) (string, error) {
	real := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if real, err = filepath.EvalSymlinks(path); err != nil {
			return "", fmt.Errorf("%s is a symbolic link that does not resolve (%v): point it at the daemon's daemon.json, or pass --daemon-config with the real file (nothing was changed)", path, err)
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w (nothing was changed)", path, err)
	}
	if fi, err := os.Stat(real); err == nil {
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file (%s): pass --daemon-config with the daemon's daemon.json (nothing was changed)", real, fi.Mode().Type())
		}
		if err := trusted(real, fi, "chown root "+real+" && chmod o-w "+real); err != nil {
			return "", err
		}
	}
	dir := filepath.Dir(real)
	di, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("folder of %s: %w (nothing was changed)", real, err)
	}
	if err := trusted(dir, di, "chown root "+dir+" && chmod o-w "+dir); err != nil {
		return "", err
	}
	return real, nil
}

// trusted refuses a file or folder not owned by root or writable by others.
func trusted(name string, fi fs.FileInfo, remedy string) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not root: that user could change what the daemon reads (nothing was changed); %s", name, st.Uid, remedy)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("%s is writable by others (mode %04o): anyone could change what the daemon reads (nothing was changed); %s", name, fi.Mode().Perm(), remedy)
	}
	return nil
}
