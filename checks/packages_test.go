package checks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/plan"
)

// TestPackageUnits: a package whose docker.service would stop with
// KillMode=control-group (set, or systemd's default) is refused before it
// is installed; KillMode=process passes; a unit the plan does not restart
// is not judged.
func TestPackageUnits(t *testing.T) {
	tests := []struct {
		name, unit, body string
		want             Status
	}{
		{"process", "docker.service", "[Unit]\nDescription=x\n[Service]\nKillMode=process\n", OK},
		{"control-group", "docker.service", "[Service]\nKillMode=control-group\n", Fail},
		{"mixed", "docker.service", "[Service]\nKillMode=mixed\n", Fail},
		{"systemd's default", "docker.service", "[Service]\nExecStart=/usr/sbin/dockerd\n", Fail},
		{"not restarted", "other.service", "[Service]\nKillMode=control-group\n", OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "lib/systemd/system", tt.unit)
			os.MkdirAll(filepath.Dir(f), 0o755)
			if err := os.WriteFile(f, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			p := &plan.Plan{Target: plan.Target{Kind: plan.Docker, Unit: "docker.service"},
				Binaries: []plan.Binary{{Path: "/usr/sbin/dockerd"}},
				Packages: []plan.Package{{Name: "docker.io", Version: "1", Extracted: dir, Units: []string{tt.unit}}}}
			r := checkPackageUnits(context.Background(), NewEnv(p, Options{}))
			if r.Status != tt.want {
				t.Errorf("%s: %s %q, want %s", tt.name, r.Status, r.Message, tt.want)
			}
		})
	}
}

// TestPackagePrevious: a rollback needs the .deb of the version dpkg
// records now; without one, or with another version installed than the
// plan was made with, pre-flight fails. It asks the host's dpkg about the
// package "dpkg" itself.
func TestPackagePrevious(t *testing.T) {
	out, err := exec.Command("dpkg-query", "--show", "--showformat=${Version}", "dpkg").Output()
	if err != nil {
		t.Skipf("no dpkg here: %v", err)
	}
	installed := strings.TrimSpace(string(out))
	tests := []struct {
		name     string
		previous plan.PackageRef
		rollback string
		want     Status
	}{
		{"no .deb at hand", plan.PackageRef{Version: installed}, "auto", Fail},
		{"another version installed", plan.PackageRef{Version: "0.0.1"}, "auto", Fail},
		{"no rollback wanted", plan.PackageRef{Version: installed}, "never", Warn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &plan.Plan{Target: plan.Target{Kind: plan.Docker}, Policy: plan.Policy{Rollback: tt.rollback},
				Packages: []plan.Package{{Name: "dpkg", Version: "9", Previous: tt.previous}}}
			r := checkPackagePrevious(context.Background(), NewEnv(p, Options{}))
			if r.Status != tt.want {
				t.Errorf("%s: %s %q, want %s", tt.name, r.Status, r.Message, tt.want)
			}
		})
	}
}
