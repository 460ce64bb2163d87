package upgrade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/plan"
)

// backupName is where the old binary is kept: <path>.liveswap-backup-<version>.
func backupName(path, version string) string {
	v := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, version)
	if v == "" {
		v = "unknown"
	}
	return path + ".liveswap-backup-" + v
}

// stagedName is where run stages the new binary for path: unique per run
// and per process (a resumed run stages anew under another name), so no
// two runs ever write, or remove, each other's copy.
func stagedName(path, run string) string {
	var rnd [4]byte
	rand.Read(rnd[:])
	return path + ".liveswap-new-" + run + "-" + hex.EncodeToString(rnd[:])
}

// staleStaged lists the staged copies beside path (regular files only).
func staleStaged(path string) []string {
	m, _ := filepath.Glob(path + ".liveswap-new-*")
	var out []string
	for _, f := range m {
		if st, err := os.Lstat(f); err == nil && st.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

// Files is the file system moves a swap makes; tests inject failures.
type Files interface {
	Stage(ctx context.Context, src, dst, sha string, progress func(n int64)) error
	Link(old, new string) error
	Rename(old, new string) error
	Remove(path string) error
}

// OSFiles moves real files.
type OSFiles struct{}

// Stage copies src to dst (mode of dst's target kept from src, 0755 at
// least owner-executable), fsyncs it and its folder, and checks that what
// landed on disk hashes to sha (skipped when sha is empty).
func (OSFiles) Stage(ctx context.Context, src, dst, sha string, progress func(int64)) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	// O_EXCL: a file already there is not this run's to overwrite.
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, st.Mode().Perm()|0o700)
	if err != nil {
		return fmt.Errorf("staging %s: %w", dst, err)
	}
	_, err = io.Copy(out, &ctxReader{ctx: ctx, r: in, progress: progress})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(dst))
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("staging %s -> %s: %w", src, dst, err)
	}
	if sha == "" {
		return nil
	}
	got, err := checks.FileSHA256(dst)
	if err != nil {
		os.Remove(dst)
		return err
	}
	if got != sha {
		os.Remove(dst)
		return fmt.Errorf("staged copy %s has sha256 %s, want %s: the file changed or the disk lied", dst, got, sha)
	}
	return nil
}

// Link makes a hard link.
func (OSFiles) Link(old, new string) error { return os.Link(old, new) }

// Rename renames atomically and makes it durable.
func (OSFiles) Rename(old, new string) error {
	if err := os.Rename(old, new); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(new))
}

// Remove deletes a file; a missing file is not an error.
func (OSFiles) Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	progress func(int64)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if c.progress != nil && n > 0 {
		c.progress(int64(n))
	}
	return n, err
}

// swapIn puts the staged file in place: the old binary is first hard-linked
// to its backup name, so path always names a complete binary and the old
// one is never without a name.
func swapIn(fs Files, s Swap) error {
	if _, err := os.Stat(s.Staged); errors.Is(err, os.ErrNotExist) {
		if _, berr := os.Stat(s.Backup); berr == nil {
			return nil // swapped already, by a run that crashed after it
		}
		return fmt.Errorf("staged binary %s is missing and there is no backup %s: stage again", s.Staged, s.Backup)
	}
	// link(2) does not follow a symbolic link: the backup would be a link
	// to a file that the rename below leaves in place, and outlives.
	if err := plan.RegularFile(s.Path); err != nil {
		return fmt.Errorf("not swapping %s: %w", s.Path, err)
	}
	if err := fs.Remove(s.Backup); err != nil {
		return err
	}
	if err := fs.Link(s.Path, s.Backup); err != nil {
		return fmt.Errorf("keeping %s as %s: %w", s.Path, s.Backup, err)
	}
	if err := fs.Rename(s.Staged, s.Path); err != nil {
		return fmt.Errorf("swapping %s into %s: %w", s.Staged, s.Path, err)
	}
	return nil
}

// swapBack restores the backup at path, keeping the backup itself.
func swapBack(fs Files, s Swap) error {
	if err := CheckBackup(s); err != nil {
		return err
	}
	tmp := s.Path + ".liveswap-restore"
	if err := fs.Remove(tmp); err != nil {
		return err
	}
	if err := fs.Link(s.Backup, tmp); err != nil {
		return fmt.Errorf("restoring %s: %w", s.Backup, err)
	}
	if err := fs.Rename(tmp, s.Path); err != nil {
		return fmt.Errorf("restoring %s to %s: %w", s.Backup, s.Path, err)
	}
	return nil
}

// CheckBackup says whether s's backup can be restored: a regular file (not
// a link, which could name a file that moved or changed) holding what the
// journal recorded before the swap. Runs journaled before the sha256 was
// recorded are checked for the file type only.
func CheckBackup(s Swap) error {
	if err := plan.RegularFile(s.Backup); err != nil {
		return fmt.Errorf("backup %s: %w", s.Backup, err)
	}
	if s.BackupSHA256 == "" {
		return nil
	}
	sum, err := checks.FileSHA256(s.Backup)
	if err != nil {
		return fmt.Errorf("backup %s: %w", s.Backup, err)
	}
	if sum != s.BackupSHA256 {
		return fmt.Errorf("backup %s has sha256 %s, the journal recorded %s for %s before the swap: it is not the old binary any more", s.Backup, sum, s.BackupSHA256, s.Path)
	}
	return nil
}

// pruneBackups keeps the newest keep backups of path and always keep the
// one named protect (the one a rollback would need).
func pruneBackups(fs Files, path string, keep int, protect string) ([]string, error) {
	matches, _ := filepath.Glob(path + ".liveswap-backup-*")
	type bk struct {
		name string
		mod  int64
	}
	var list []bk
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			continue
		}
		// ctime, not mtime: a hard link keeps the binary's build mtime,
		// while linking it as a backup updates its change time.
		mod := st.ModTime().UnixNano()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			mod = sys.Ctim.Nano()
		}
		list = append(list, bk{m, mod})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].mod != list[j].mod {
			return list[i].mod > list[j].mod
		}
		return list[i].name > list[j].name
	})
	var removed []string
	kept := 0
	for _, b := range list {
		if b.name == protect || kept < keep {
			kept++
			continue
		}
		if err := fs.Remove(b.name); err != nil {
			return removed, err
		}
		removed = append(removed, b.name)
	}
	return removed, nil
}
