package playbooks

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/plan"
)

// TestPlansLoad loads every template the way `liveswap apply` and
// `liveswap preflight --plan` do (strict decoding, defaults, validation),
// but for the check of the files on this host.
func TestPlansLoad(t *testing.T) {
	type template struct {
		file        string
		kind        string
		binaries    []string // paths, the daemon first
		wantVersion string
		usage       string // a command the header must show
	}
	tests := []template{
		{"dockerd-patch-upgrade.yaml", plan.Docker, []string{"/usr/bin/dockerd", "/usr/bin/containerd", "/usr/bin/runc"}, "20.10.24", "liveswap apply dockerd-patch-upgrade.yaml --yes"},
		{"liveswapd-upgrade.yaml", plan.Liveswapd, []string{"/usr/local/bin/liveswapd"}, "1.0.1", "liveswap apply liveswapd-upgrade.yaml --yes"},
		{"enable-live-restore.yaml", plan.Docker, []string{"/usr/sbin/dockerd"}, "20.10.24", "liveswap enable-live-restore --plan enable-live-restore.yaml --yes"},
	}
	files, err := fs.Glob(Plans, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.ContainsFunc(tests, func(tt template) bool { return tt.file == f }) {
			t.Errorf("%s has no test case: add one", f)
		}
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			// Parse, not Load: Load also checks the files on this host
			// (plan.CheckFiles), and a template names another host's.
			b, err := os.ReadFile(filepath.Join(".", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Parse(b)
			if err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			if p.Target.Kind != tt.kind {
				t.Errorf("target.kind %s, want %s", p.Target.Kind, tt.kind)
			}
			var paths []string
			for _, b := range p.Binaries {
				paths = append(paths, b.Path)
			}
			if !slices.Equal(paths, tt.binaries) {
				t.Errorf("binaries %v, want %v", paths, tt.binaries)
			}
			if p.Binaries[0].ExpectedVersion != tt.wantVersion {
				t.Errorf("expectedVersion %s, want %s", p.Binaries[0].ExpectedVersion, tt.wantVersion)
			}
			if p.Policy.AllowMinor || p.Policy.AllowDowngrade || p.Policy.InsecureSkipChecksum || p.Policy.MaxProbeFailures != 0 || p.Policy.Rollback != "auto" {
				t.Errorf("a template must carry the careful policy: %+v", p.Policy)
			}
			b, _ = fs.ReadFile(Plans, tt.file)
			text := string(b)
			if !strings.HasPrefix(text, "# ") {
				t.Error("the template does not open with a comment saying what it is for")
			}
			if !strings.Contains(text, tt.usage) {
				t.Errorf("the header does not show %q", tt.usage)
			}
			// Placeholder checksums must fail preflight, never pass it.
			for _, bin := range p.Binaries {
				if bin.SHA256 != strings.Repeat("0", 64) {
					t.Errorf("%s: sha256 %s is not the all-zero placeholder", bin.Path, bin.SHA256)
				}
			}
		})
	}
}
