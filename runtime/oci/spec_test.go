package oci

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestBuild(t *testing.T) {
	yes := true
	pids := int64(20)
	base := func(hc container.HostConfig) Input {
		if hc.NetworkMode == "" {
			hc.NetworkMode = "host"
		}
		return Input{ID: strings.Repeat("ab", 32), Root: "/srv/rootfs", Args: []string{"/bin/sh", "-c", "true"},
			Config: &container.Config{}, HostConfig: &hc, InitPath: "/usr/bin/tini-static"}
	}
	for _, tt := range []struct {
		name  string
		hc    container.HostConfig
		check func(t *testing.T, s specOf)
		err   string
	}{
		{"defaults", container.HostConfig{}, func(t *testing.T, s specOf) {
			for _, ns := range []string{"pid", "mount", "ipc", "uts", "cgroup"} {
				if !s.hasNS(ns) {
					t.Errorf("no %s namespace", ns)
				}
			}
			if s.hasNS("network") {
				t.Errorf("network host has its own network namespace")
			}
			if !s.Process.NoNewPrivileges || s.Linux.Seccomp == nil || len(s.Linux.MaskedPaths) == 0 || len(s.Linux.ReadonlyPaths) == 0 {
				t.Errorf("not confined: nnp %v seccomp %v masked %v", s.Process.NoNewPrivileges, s.Linux.Seccomp != nil, s.Linux.MaskedPaths)
			}
			if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") || !slices.Contains(s.Process.Capabilities.Bounding, "CAP_CHOWN") {
				t.Errorf("capabilities %v are not Docker's defaults", s.Process.Capabilities.Bounding)
			}
		}, ""},
		{"network none", container.HostConfig{NetworkMode: "none"}, func(t *testing.T, s specOf) {
			if !s.hasNS("network") {
				t.Errorf("network none shares the host's network namespace")
			}
		}, ""},
		{"limits", container.HostConfig{ReadonlyRootfs: true, Resources: container.Resources{Memory: 32 << 20, NanoCPUs: 5e8, PidsLimit: &pids, Ulimits: []*units.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}}}, func(t *testing.T, s specOf) {
			r := s.Linux.Resources
			if *r.Memory.Limit != 32<<20 || *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 || r.Pids.Limit != 20 {
				t.Errorf("resources %+v", r)
			}
			if !s.Root.Readonly || len(s.Process.Rlimits) != 1 || s.Process.Rlimits[0].Type != "RLIMIT_NOFILE" {
				t.Errorf("read-only %v rlimits %v", s.Root.Readonly, s.Process.Rlimits)
			}
		}, ""},
		{"cap add and drop", container.HostConfig{CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"chown"}}, func(t *testing.T, s specOf) {
			b := s.Process.Capabilities.Bounding
			if !slices.Contains(b, "CAP_NET_ADMIN") || slices.Contains(b, "CAP_CHOWN") {
				t.Errorf("capabilities %v", b)
			}
		}, ""},
		{"tmpfs and binds", container.HostConfig{Tmpfs: map[string]string{"/scratch": "size=1m"}, Binds: []string{"/tmp:/data:ro"}}, func(t *testing.T, s specOf) {
			var tmp, bind bool
			for _, m := range s.Mounts {
				tmp = tmp || m.Destination == "/scratch" && m.Type == "tmpfs" && slices.Contains(m.Options, "size=1m")
				bind = bind || m.Destination == "/data" && m.Source == "/tmp" && slices.Contains(m.Options, "ro")
			}
			if !tmp || !bind {
				t.Errorf("mounts %+v", s.Mounts)
			}
		}, ""},
		{"init", container.HostConfig{Init: &yes}, func(t *testing.T, s specOf) {
			if s.Process.Args[0] != "/sbin/docker-init" || s.Process.Args[2] != "/bin/sh" {
				t.Errorf("args %v", s.Process.Args)
			}
		}, ""},
		{"security opt", container.HostConfig{SecurityOpt: []string{"apparmor=unconfined"}}, nil, `--security-opt "apparmor=unconfined" is not supported`},
		{"pid host", container.HostConfig{PidMode: "host"}, nil, `--pid "host" is not supported`},
		{"unknown cap", container.HostConfig{CapAdd: []string{"FLY"}}, nil, `unknown capability "CAP_FLY"`},
		{"volume bind", container.HostConfig{Binds: []string{"data:/data"}}, nil, "named volumes are not supported"},
		{"tiny memory", container.HostConfig{Resources: container.Resources{Memory: 1024}}, nil, "minimum memory limit"},
	} {
		s, err := Build(base(tt.hc))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		t.Run(tt.name, func(t *testing.T) { tt.check(t, specOf{s}) })
	}
}

type specOf struct{ *specs.Spec }

func (s specOf) hasNS(kind string) bool {
	for _, n := range s.Linux.Namespaces {
		if string(n.Type) == kind && n.Path == "" {
			return true
		}
	}
	return false
}

func TestEtcFiles(t *testing.T) {
	host := func(p string) ([]byte, error) { return []byte("host " + p + "\n"), nil }
	for _, tt := range []struct {
		name       string
		hc         container.HostConfig
		hosts, dns string // wanted bodies; err when hosts starts with "error:"
	}{
		{"host network", container.HostConfig{NetworkMode: "host"}, "host /etc/hosts\n", "host /etc/resolv.conf\n"},
		{"network none", container.HostConfig{NetworkMode: "none", ExtraHosts: []string{"db:10.0.0.2"}}, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\tdb\n", ""},
		{"bad add-host", container.HostConfig{NetworkMode: "none", ExtraHosts: []string{"db"}}, `error:--add-host "db": use name:ip`, ""},
	} {
		files, err := EtcFiles(&tt.hc, "box", host)
		if want, ok := strings.CutPrefix(tt.hosts, "error:"); ok {
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: error %v, want one containing %q", tt.name, err, want)
			}
			continue
		}
		if err != nil || len(files) != 3 || files[0].Body != tt.hosts || files[1].Body != tt.dns || files[2].Body != "box\n" {
			t.Errorf("%s: %+v, %v", tt.name, files, err)
		}
	}
}
