package liverestore

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestConfigTarget: a daemon.json behind a symbolic link is edited where
// the link points, keeping the link, the file's mode and owner; files or
// folders others could change are refused before anything is written.
func TestConfigTarget(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (path, want string) // want: the file edited
		err   string
	}{
		{"regular file", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "daemon.json")
			os.WriteFile(p, []byte("{}"), 0o644)
			return p, p
		}, ""},
		{"missing file, trusted folder", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "daemon.json")
			return p, p
		}, ""},
		{"link to a file in another folder", func(t *testing.T, dir string) (string, string) {
			real := filepath.Join(dir, "etc-real", "daemon.json")
			os.Mkdir(filepath.Dir(real), 0o755)
			os.WriteFile(real, []byte("{}"), 0o640)
			p := filepath.Join(dir, "daemon.json")
			os.Symlink("etc-real/daemon.json", p)
			return p, real
		}, ""},
		{"chain of links", func(t *testing.T, dir string) (string, string) {
			real := filepath.Join(dir, "real.json")
			os.WriteFile(real, []byte("{}"), 0o644)
			os.Symlink(real, filepath.Join(dir, "mid.json"))
			p := filepath.Join(dir, "daemon.json")
			os.Symlink(filepath.Join(dir, "mid.json"), p)
			return p, real
		}, ""},
		{"dangling link", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "daemon.json")
			os.Symlink(filepath.Join(dir, "gone.json"), p)
			return p, ""
		}, "does not resolve"},
		{"target writable by others", func(t *testing.T, dir string) (string, string) {
			real := filepath.Join(dir, "real.json")
			os.WriteFile(real, []byte("{}"), 0o644)
			os.Chmod(real, 0o646)
			p := filepath.Join(dir, "daemon.json")
			os.Symlink(real, p)
			return p, ""
		}, "real.json is writable by others"},
		{"target owned by another user", func(t *testing.T, dir string) (string, string) {
			real := filepath.Join(dir, "real.json")
			os.WriteFile(real, []byte("{}"), 0o644)
			os.Chown(real, 65534, 65534)
			p := filepath.Join(dir, "daemon.json")
			os.Symlink(real, p)
			return p, ""
		}, "owned by uid 65534"},
		{"target's folder writable by others", func(t *testing.T, dir string) (string, string) {
			open := filepath.Join(dir, "open")
			os.Mkdir(open, 0o755)
			os.Chmod(open, 0o777)
			real := filepath.Join(open, "daemon.json")
			os.WriteFile(real, []byte("{}"), 0o644)
			p := filepath.Join(dir, "daemon.json")
			os.Symlink(real, p)
			return p, ""
		}, "open is writable by others"},
		{"a folder", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "daemon.json")
			os.Mkdir(p, 0o755)
			return p, ""
		}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("needs root: the checks are about root-owned files")
			}
			dir := t.TempDir()
			path, want := tt.setup(t, dir)
			got, err := ConfigTarget(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "nothing was changed") {
					t.Fatalf("ConfigTarget: %q, %v; want an error naming %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("ConfigTarget: %q, %v; want %q", got, err, want)
			}
		})
	}
}

// TestEditThroughLink: what apply writes through ConfigTarget keeps the
// link a link and the file's mode and owner.
func TestEditThroughLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file another group")
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "etc-real", "daemon.json")
	os.Mkdir(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte(`{"live-restore": false}`), 0o640)
	os.Chown(real, 0, 4321)
	link := filepath.Join(dir, "daemon.json")
	os.Symlink(real, link)

	target, err := ConfigTarget(link)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(target)
	sys := st.Sys().(*syscall.Stat_t)
	if err := writeAtomic(target, []byte(`{"live-restore": true}`), st.Mode().Perm(), int(sys.Uid), int(sys.Gid)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(real); string(b) != `{"live-restore": true}` {
		t.Errorf("the real file holds %q", b)
	}
	st, _ = os.Stat(real)
	sys = st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || sys.Uid != 0 || sys.Gid != 4321 {
		t.Errorf("mode %04o owner %d:%d, want 0640 0:4321", st.Mode().Perm(), sys.Uid, sys.Gid)
	}
}
