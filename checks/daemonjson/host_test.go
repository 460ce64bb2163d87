package daemonjson

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeHost is a host made of a map of files; everything else it lacks.
type fakeHost struct {
	files   fstest.MapFS
	ifs     []string
	fsType  string
	selinux bool
}

func (h fakeHost) ReadFile(p string) ([]byte, error) {
	return fs.ReadFile(h.files, strings.TrimPrefix(p, "/"))
}
func (h fakeHost) Stat(p string) (fs.FileInfo, error) {
	return fs.Stat(h.files, strings.TrimPrefix(p, "/"))
}
func (h fakeHost) ReadDir(p string) ([]fs.DirEntry, error) {
	return fs.ReadDir(h.files, strings.TrimPrefix(p, "/"))
}
func (h fakeHost) Interfaces() ([]string, error) { return h.ifs, nil }
func (h fakeHost) Resolve(string) error          { return errors.New("no resolver") }
func (h fakeHost) FSType(string) (string, error) { return h.fsType, nil }
func (h fakeHost) SELinux() bool                 { return h.selinux }
func (h fakeHost) SocketActivated() (bool, bool) { return false, false }

func TestCheckHost(t *testing.T) {
	etc := fstest.MapFS{
		"etc/passwd":                    {Data: []byte("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n")},
		"etc/group":                     {Data: []byte("root:x:0:\nnogroup:x:65534:\napp:x:1000:\n")},
		"etc/subuid":                    {Data: []byte("app:100000:65536\n")},
		"etc/subgid":                    {Data: []byte("app:100000:65536\n")},
		"usr/bin/crun":                  {Data: []byte("#!"), Mode: 0o755},
		"run/docker/plugins/authz.sock": {Mode: fs.ModeSocket},
	}
	host := fakeHost{files: etc, ifs: []string{"lo", "eth0"}, fsType: "extfs"}
	tests := []struct {
		name string
		data string
		sev  Severity // worst host finding; OK: none
		key  string
	}{
		{"userns default", `{"userns-remap": "default"}`, OK, ""},
		{"userns user with ranges", `{"userns-remap": "app"}`, OK, ""},
		{"userns missing user", `{"userns-remap": "ghost"}`, Fail, "userns-remap"},
		{"userns user without same-name group", `{"userns-remap": "nobody"}`, Fail, "userns-remap"},
		{"userns user without ranges", `{"userns-remap": "nobody:nogroup"}`, Fail, "userns-remap"},
		{"missing group", `{"group": "ghosts"}`, Fail, "group"},
		{"existing group", `{"group": "app"}`, OK, ""},
		{"authz plugin installed", `{"authorization-plugins": ["authz"]}`, OK, ""},
		{"authz plugin missing", `{"authorization-plugins": ["opa"]}`, Fail, "authorization-plugins"},
		{"log plugin missing with opts", `{"log-driver": "loki", "log-opts": {"loki-url": "http://x"}}`, Fail, "log-driver"},
		{"log plugin missing without opts", `{"log-driver": "loki"}`, Warn, "log-driver"},
		{"runtime path executable", `{"runtimes": {"crun": {"path": "/usr/bin/crun"}}}`, OK, ""},
		{"runtime path missing", `{"runtimes": {"x": {"path": "/opt/x"}}}`, Warn, "runtimes"},
		{"selinux without SELinux", `{"selinux-enabled": true}`, Warn, "selinux-enabled"},
		{"tls cert missing", `{"tls": true, "tlscert": "/etc/docker/cert.pem", "tlskey": "/etc/docker/key.pem"}`, Fail, "tlscert"},
		{"overlay2.size on ext4", `{"storage-opts": ["overlay2.size=10G"]}`, Fail, "storage-opts"},
		{"btrfs driver on ext4", `{"storage-driver": "btrfs"}`, Fail, "storage-driver"},
		{"bridge that exists", `{"bridge": "eth0"}`, OK, ""},
		{"bridge that does not", `{"bridge": "br9"}`, Fail, "bridge"},
		{"unix socket folder missing", `{"hosts": ["unix:///nope/docker.sock"]}`, Fail, "hosts"},
		{"containerd socket missing", `{"containerd": "/run/containerd/containerd.sock"}`, Fail, "containerd"},
		{"seccomp file missing", `{"seccomp-profile": "/etc/docker/seccomp.json"}`, Fail, "seccomp-profile"},
		{"not JSON: nothing to judge", `{`, OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := CheckHost([]byte(tt.data), Options{DockerVersion: "26.1"}, host)
			worst, key := OK, ""
			for _, f := range fs {
				if f.ID != IDHost {
					t.Errorf("finding %s is not a host finding", f.ID)
				}
				if f.Remedy == "" || !strings.Contains(f.Message, "on this host") {
					t.Errorf("finding without remedy or host label: %+v", f)
				}
				if f.Severity == Fail || (f.Severity == Warn && worst == OK) {
					worst, key = f.Severity, f.Key
				}
			}
			if worst != tt.sev || key != tt.key {
				t.Errorf("worst host finding %s on %q, want %s on %q: %+v", worst, key, tt.sev, tt.key, fs)
			}
		})
	}
}
