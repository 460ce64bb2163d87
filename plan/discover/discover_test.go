package discover

import (
	"github.com/liveswap/liveswap/plan"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/systemd"
)

type fakeUnits map[string]*systemd.Unit

func (f fakeUnits) Unit(_ context.Context, name string) (*systemd.Unit, error) {
	if u, ok := f[name]; ok {
		return u, nil
	}
	return nil, errors.New("no such unit " + name)
}

func unit(name string, argv ...string) *systemd.Unit {
	return &systemd.Unit{Name: name, LoadState: "loaded", ExecStart: []systemd.Exec{{Path: argv[0], Argv: argv}}}
}

func TestFromFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "daemon.json")
	os.WriteFile(cfg, []byte("\xef\xbb\xbf"+`{"hosts": ["fd://", "unix:///tmp/x/docker.sock"], "live-restore": true}`), 0o644)
	noHosts := filepath.Join(dir, "nohosts.json")
	os.WriteFile(noHosts, []byte(`{"live-restore": true}`), 0o644)
	sha := strings.Repeat("ab", 32)

	tests := []struct {
		name    string
		flags   Flags
		units   UnitReader
		want    plan.Target
		binary  string
		wantErr string
	}{
		{
			name:   "defaults without systemd",
			flags:  Flags{},
			want:   plan.Target{Kind: plan.Docker, Unit: "docker.service", Systemd: "system", Endpoint: "unix:///var/run/docker.sock", DaemonConfig: "/etc/docker/daemon.json"},
			binary: "/usr/sbin/dockerd",
		},
		{
			name:   "ExecStart gives binary, config file and host",
			flags:  Flags{Unit: "lsdocker", Systemd: "user"},
			units:  fakeUnits{"lsdocker.service": unit("lsdocker.service", "/opt/bin/dockerd", "--config-file", noHosts, "-H", "unix:///run/a.sock")},
			want:   plan.Target{Kind: plan.Docker, Unit: "lsdocker.service", Systemd: "user", Endpoint: "unix:///run/a.sock", DaemonConfig: noHosts},
			binary: "/opt/bin/dockerd",
		},
		{
			name:   "daemon.json hosts when ExecStart has no -H",
			flags:  Flags{},
			units:  fakeUnits{"docker.service": unit("docker.service", "/usr/sbin/dockerd", "--config-file="+cfg)},
			want:   plan.Target{Kind: plan.Docker, Unit: "docker.service", Systemd: "system", Endpoint: "unix:///tmp/x/docker.sock", DaemonConfig: cfg},
			binary: "/usr/sbin/dockerd",
		},
		{
			name:   "fd:// in ExecStart falls back to the default socket",
			flags:  Flags{},
			units:  fakeUnits{"docker.service": unit("docker.service", "/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock")},
			want:   plan.Target{Kind: plan.Docker, Unit: "docker.service", Systemd: "system", Endpoint: "unix:///var/run/docker.sock", DaemonConfig: "/etc/docker/daemon.json"},
			binary: "/usr/sbin/dockerd",
		},
		{
			name:   "flags win over discovery",
			flags:  Flags{Unit: "x.service", Endpoint: "unix:///e.sock", DaemonConfig: "/etc/d.json"},
			units:  fakeUnits{"x.service": unit("x.service", "/bin/dockerd", "--config-file", cfg, "--host=unix:///h.sock")},
			want:   plan.Target{Kind: plan.Docker, Unit: "x.service", Systemd: "system", Endpoint: "unix:///e.sock", DaemonConfig: "/etc/d.json"},
			binary: "/bin/dockerd",
		},
		{
			name:   "liveswapd kind inferred from ExecStart",
			flags:  Flags{Unit: "rt.service"},
			units:  fakeUnits{"rt.service": unit("rt.service", "/usr/local/bin/liveswapd", "--config-file", noHosts, "-Hunix:///run/rt.sock")},
			want:   plan.Target{Kind: plan.Liveswapd, Unit: "rt.service", Systemd: "system", Endpoint: "unix:///run/rt.sock", DaemonConfig: noHosts},
			binary: "/usr/local/bin/liveswapd",
		},
		{
			name:   "liveswapd defaults",
			flags:  Flags{Target: plan.Liveswapd},
			units:  fakeUnits{},
			want:   plan.Target{Kind: plan.Liveswapd, Unit: "liveswapd.service", Systemd: "system", Endpoint: "unix:///run/liveswapd.sock", DaemonConfig: "/etc/liveswap/daemon.json"},
			binary: "/usr/local/bin/liveswapd",
		},
		{name: "bad target", flags: Flags{Target: "podman"}, wantErr: `--target "podman"`},
		{name: "bad systemd", flags: Flags{Systemd: "session"}, wantErr: `--systemd "session"`},
		{name: "tcp endpoint", flags: Flags{Endpoint: "tcp://1.2.3.4:2375"}, wantErr: "--endpoint"},
		{name: "short sha", flags: Flags{NewBinary: []string{"/x"}, SHA256: []string{"abc"}}, wantErr: "--sha256"},
		{name: "sha without binary", flags: Flags{SHA256: []string{sha}}, wantErr: "without --new-binary"},
		{name: "relative daemon config", flags: Flags{DaemonConfig: "daemon.json"}, wantErr: "--daemon-config"},
		{name: "new binary needs a sha256", flags: Flags{NewBinary: []string{"/opt/dockerd"}}, wantErr: "binaries[0].sha256"},
		{name: "bad unit name", flags: Flags{Unit: "docker.socket"}, wantErr: "target.unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := FromFlags(context.Background(), tt.flags, tt.units)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Target != tt.want {
				t.Errorf("target = %+v\nwant     %+v", p.Target, tt.want)
			}
			if len(p.Binaries) != 1 || p.Binaries[0].Path != tt.binary || p.Binaries[0].NewFile != "" {
				t.Errorf("binaries = %+v, want path %s and no new file", p.Binaries, tt.binary)
			}
		})
	}
}

func TestFromFlagsNewBinary(t *testing.T) {
	sha := strings.Repeat("AB", 32)
	wd, _ := os.Getwd()
	p, err := FromFlags(context.Background(), Flags{NewBinary: []string{"bin/dockerd"}, SHA256: []string{sha}, AllowMinor: true, InsecureSkipChecksum: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Binaries[0]
	if b.NewFile != filepath.Join(wd, "bin/dockerd") || b.SHA256 != strings.ToLower(sha) || b.Path != "/usr/sbin/dockerd" {
		t.Errorf("binary = %+v", b)
	}
	if !p.Policy.AllowMinor || p.Policy.AllowDowngrade || !p.Policy.InsecureSkipChecksum {
		t.Errorf("policy = %+v", p.Policy)
	}
	// Without a sha256 the plan is valid only when the checksum is waived.
	if _, err := FromFlags(context.Background(), Flags{NewBinary: []string{"/opt/dockerd"}, InsecureSkipChecksum: true}, nil); err != nil {
		t.Errorf("--insecure-skip-checksum: %v", err)
	}
}

// TestFromFlagsStack: containerd's path and unit come from
// containerd.service when it is loaded; runc runs in no unit; the target's
// dockerd keeps its ExecStart; the restart order is containerd first.
func TestFromFlagsStack(t *testing.T) {
	sha := strings.Repeat("a", 64)
	units := fakeUnits{
		"docker.service":     unit("docker.service", "/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"),
		"containerd.service": unit("containerd.service", "/usr/bin/containerd"),
	}
	p, err := FromFlags(context.Background(), Flags{NewBinary: []string{"/n/dockerd", "/n/c", "/n/r"}, SHA256: []string{sha, sha, sha},
		Components: []string{"dockerd", "containerd", "runc"}}, units)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, b := range p.Binaries {
		got += fmt.Sprintf("%s:%s:%s ", b.Component, b.Path, p.UnitOf(b))
	}
	if want := "dockerd:/usr/sbin/dockerd:docker.service containerd:/usr/bin/containerd:containerd.service runc:/usr/sbin/runc: "; got != want {
		t.Errorf("binaries %q, want %q", got, want)
	}
	if u := strings.Join(p.Units(), " "); u != "containerd.service docker.service" {
		t.Errorf("restart order %q", u)
	}
	if d := p.Daemon(); d == nil || d.NewFile != "/n/dockerd" {
		t.Errorf("daemon binary %+v", d)
	}
	delete(units, "containerd.service") // dockerd's own child containerd: restarted with it
	p, err = FromFlags(context.Background(), Flags{NewBinary: []string{"/n/c"}, SHA256: []string{sha}, Components: []string{"containerd"}}, units)
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Binaries[0]; b.Unit != "" || p.UnitOf(b) != "docker.service" || p.Daemon() != nil {
		t.Errorf("child containerd: %+v unit %q", b, p.UnitOf(b))
	}
	if _, err := FromFlags(context.Background(), Flags{NewBinary: []string{"/n/a", "/n/b"}, SHA256: []string{sha, sha},
		Components: []string{"containerd", "containerd"}}, units); err == nil || !strings.Contains(err.Error(), "both containerd") {
		t.Errorf("two containerd: err %v", err)
	}
	if _, err := FromFlags(context.Background(), Flags{NewBinary: []string{"/n/a", "/n/b"}, SHA256: []string{sha}}, units); err == nil || !strings.Contains(err.Error(), "in pairs") {
		t.Errorf("unpaired: err %v", err)
	}
	// liveswapd's shim is the file beside the liveswapd its unit runs.
	units["liveswapd.service"] = unit("liveswapd.service", "/opt/ls/liveswapd", "-H", "fd://")
	p, err = FromFlags(context.Background(), Flags{Target: "liveswapd", NewBinary: []string{"/n/liveswapd", "/n/liveswapd-shim"}, SHA256: []string{sha, sha},
		Components: []string{"liveswapd", "liveswapd-shim"}}, units)
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Binaries[1]; b.Path != "/opt/ls/liveswapd-shim" || p.UnitOf(b) != "" || p.Daemon().Path != "/opt/ls/liveswapd" {
		t.Errorf("liveswapd-shim: %+v unit %q", b, p.UnitOf(b))
	}
}
