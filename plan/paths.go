package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// checkPath is the lexical rule for a file a plan names: liveswap renames
// files as root beside it, so the name must say exactly one file —
// absolute, clean (no "..", no "//", no trailing "/"), not the root, and
// free of newlines and other control characters, which would also forge
// lines in logs and the journal's readers.
func checkPath(s, example string) error {
	switch {
	case s == "":
		return fmt.Errorf("missing: give the absolute path of the file (example: %s)", example)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Errorf("%q contains a newline or another control character: give the file's path on one line", s)
	case !filepath.IsAbs(s):
		return fmt.Errorf("%q must be an absolute path (example: %s)", s, example)
	case s == "/" || strings.HasSuffix(s, "/"):
		return fmt.Errorf("%q names a folder, not a file: give the path of the file itself (example: %s)", s, example)
	case hasDotDot(s):
		return fmt.Errorf("%q has a \"..\" component: give the path without it (%s)", s, filepath.Clean(s))
	case filepath.Clean(s) != s:
		return fmt.Errorf("%q is not a clean path: write it as %s", s, filepath.Clean(s))
	}
	return nil
}

func hasDotDot(s string) bool {
	for _, c := range strings.Split(s, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

// CheckFiles checks on disk what Validate checks by name: each binary's
// path and newFile, when they exist, are regular files and not symbolic
// links. A link as path would be replaced by the new file while its
// target, the file the daemon runs, stays as it was, and the backup
// would be a second link to a file liveswap does not own; a link as
// newFile could be pointed elsewhere between the checks and the copy. A
// file that does not exist is left to the pre-flight (binary.exists), which
// says where the paths come from.
func (p *Plan) CheckFiles() error {
	var errs []string
	for i, b := range p.Binaries {
		for _, f := range []struct{ field, path string }{{"path", b.Path}, {"newFile", b.NewFile}} {
			if err := RegularFile(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Sprintf("binaries[%d].%s: %v", i, f.field, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid plan:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// RegularFile says why path is not a regular file, naming the file a
// symbolic link resolves to so the remedy can be copied; nil when it is
// one. A missing file is an error wrapping fs.ErrNotExist.
func RegularFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		real, rerr := filepath.EvalSymlinks(path)
		if rerr != nil {
			return fmt.Errorf("%s is a symbolic link that does not resolve (%v): name the real file", path, rerr)
		}
		return fmt.Errorf("%s is a symbolic link to %s: name the real file instead (%s)", path, real, real)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%s): name the binary itself", path, fi.Mode().Type())
	}
	return nil
}
