// Package statetest helps tests show that a refused state folder, and the
// files it pointed at, were left as they were.
package statetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Tree lists every entry under dir with its mode, owner, size, mtime and,
// for a regular file, its content: two calls that return the same string
// saw the same tree.
func Tree(dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d:%d %d %s", p, fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %q", c)
		}
		b.WriteByte('\n')
		return nil
	})
	return b.String()
}

// Nobody is the uid (and gid) of the user nobody on Debian.
const Nobody = 65534

// Hostile turns dir into the state folder of issue 13, as the user nobody
// would leave it: 0777, owned by nobody, with "lock" and "journal.jsonl"
// as nobody's symbolic links to the files of the same names in victim.
// It needs root.
func Hostile(dir, victim string) error {
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chown(dir, Nobody, Nobody); err != nil {
		return err
	}
	for _, name := range []string{"lock", "journal.jsonl"} {
		link := filepath.Join(dir, name)
		if err := os.Symlink(filepath.Join(victim, name), link); err != nil {
			return err
		}
		if err := os.Lchown(link, Nobody, Nobody); err != nil {
			return err
		}
	}
	return nil
}
