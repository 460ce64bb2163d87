package plan

import (
	"strings"
	"testing"
)

// TestValidatePackages: a package plan names each package fully, its
// binaries are the plan's, and it does not also swap a file of no package.
func TestValidatePackages(t *testing.T) {
	sha := strings.Repeat("a", 64)
	good := func() *Plan {
		p := &Plan{Target: Target{Kind: Docker, Unit: "docker.service", Systemd: "system"},
			Binaries: []Binary{{Path: "/usr/sbin/dockerd", NewFile: "/var/lib/liveswap/packages/d/usr/sbin/dockerd", SHA256: sha}},
			Packages: []Package{{Name: "docker.io", Version: "20.10.24", File: "/srv/d.deb", SHA256: sha, Extracted: "/var/lib/liveswap/packages/d",
				Binaries: []string{"/usr/sbin/dockerd"}, Previous: PackageRef{Version: "20.10.5", File: "/srv/old.deb", SHA256: sha}}}}
		p.Default()
		return p
	}
	tests := []struct {
		name   string
		change func(p *Plan)
		want   string // "" valid
	}{
		{"valid", func(*Plan) {}, ""},
		{"no previous file (pre-flight's to refuse)", func(p *Plan) { p.Packages[0].Previous.File, p.Packages[0].Previous.SHA256 = "", "" }, ""},
		{"no name", func(p *Plan) { p.Packages[0].Name = "" }, "packages[0].name: missing"},
		{"relative file", func(p *Plan) { p.Packages[0].File = "d.deb" }, "packages[0].file"},
		{"bad sha256", func(p *Plan) { p.Packages[0].SHA256 = "x" }, "packages[0].sha256"},
		{"no previous version", func(p *Plan) { p.Packages[0].Previous.Version = "" }, "packages[0].previous.version"},
		{"binary not in the plan", func(p *Plan) { p.Packages[0].Binaries = []string{"/usr/bin/containerd"} }, "packages[0].binaries[0]"},
		{"a binary of no package", func(p *Plan) {
			p.Binaries = append(p.Binaries, Binary{Path: "/usr/sbin/runc", NewFile: "/srv/runc", SHA256: sha, Component: "runc"})
		}, "binaries[1].path: /usr/sbin/runc is in no package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.change(p)
			err := p.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
