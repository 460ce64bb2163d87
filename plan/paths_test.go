package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParsePaths: every file a plan names is absolute, clean, one line and
// not a folder; the error names the field and says what to write instead.
func TestParsePaths(t *testing.T) {
	const path = "path: /usr/local/bin/liveswapd"
	tests := []struct {
		name, from, to string
		want           []string
	}{
		{"root", path, "path: /", []string{"binaries[0].path", `"/" names a folder`}},
		{"trailing slash", path, "path: /usr/local/bin/", []string{"binaries[0].path", "names a folder"}},
		{"newline", path, `path: "/usr/local/bin/liveswapd\nx"`, []string{"binaries[0].path", "newline"}},
		{"carriage return", path, `path: "/usr/local/bin/liveswapd\r"`, []string{"binaries[0].path", "control character"}},
		{"relative", path, "path: bin/liveswapd", []string{"binaries[0].path", "absolute path", "example: /usr/bin/dockerd"}},
		{"dot-dot", path, "path: /usr/local/../bin/liveswapd", []string{"binaries[0].path", `".." component`, "(/usr/bin/liveswapd)"}},
		{"leading dot-dot", path, "path: /../usr/bin/liveswapd", []string{"binaries[0].path", `".." component`}},
		{"not clean", path, "path: /usr//local/./bin/liveswapd", []string{"binaries[0].path", "not a clean path", "write it as /usr/local/bin/liveswapd"}},
		{"newFile dot-dot", "newFile: /srv/liveswapd-1.2.4", "newFile: /srv/../tmp/x", []string{"binaries[0].newFile", `".." component`}},
		{"newFile relative", "newFile: /srv/liveswapd-1.2.4", "newFile: ./liveswapd", []string{"binaries[0].newFile", "absolute"}},
		{"daemonConfig", "  kind: liveswapd\n", "  kind: liveswapd\n  daemonConfig: /etc/../tmp/daemon.json\n", []string{"target.daemonConfig", `".."`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(minimal, tt.from, tt.to, 1)
			if doc == minimal {
				t.Fatalf("the edit %q changed nothing", tt.from)
			}
			_, err := Parse([]byte(doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestLoadChecksFiles: Load refuses a plan whose files exist but are not
// regular files (a symbolic link, a folder), naming the plan file, the
// field and the file to name instead; missing files are left to the
// pre-flight.
func TestLoadChecksFiles(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "liveswapd-real")
	if err := os.WriteFile(real, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "liveswapd")
	if err := os.Symlink("liveswapd-real", link); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	os.Mkdir(folder, 0o755)
	tests := []struct {
		name, path, newFile string
		want                []string // empty: loads
	}{
		{"regular files", real, filepath.Join(dir, "missing-new"), nil},
		{"missing target", filepath.Join(dir, "missing"), real, nil},
		{"symlinked target", link, filepath.Join(dir, "new"), []string{"plan.yaml", "binaries[0].path", "symbolic link to " + real, "name the real file"}},
		{"symlinked new file", real, link, []string{"binaries[0].newFile", "symbolic link"}},
		{"folder", folder, real, []string{"binaries[0].path", "not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(strings.Replace(minimal, "/usr/local/bin/liveswapd", tt.path, 1), "/srv/liveswapd-1.2.4", tt.newFile, 1)
			file := filepath.Join(t.TempDir(), "plan.yaml")
			os.WriteFile(file, []byte(doc), 0o644)
			_, err := Load(file)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
