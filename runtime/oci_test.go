package runtime

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseUnsupported(t *testing.T) {
	swappiness := int64(-1)
	off := false
	pids := int64(50)
	for _, tt := range []struct {
		name    string
		cfg     container.Config
		hc      container.HostConfig
		allowed map[string]bool
		want    string // "" = accepted
	}{
		// What the docker CLI sends when nothing was asked.
		{"cli defaults", container.Config{Image: "x", Cmd: []string{"true"}, Volumes: map[string]struct{}{}},
			container.HostConfig{NetworkMode: "default", ConsoleSize: [2]uint{0, 0}, Resources: container.Resources{MemorySwappiness: &swappiness, OomKillDisable: &off, Ulimits: nil}}, isolatedFields, ""},
		{"limits isolated", container.Config{Image: "x"}, container.HostConfig{Resources: container.Resources{Memory: 64 << 20, NanoCPUs: 5e8, PidsLimit: &pids}}, isolatedFields, ""},
		{"limits on host image", container.Config{Image: "host"}, container.HostConfig{Resources: container.Resources{Memory: 64 << 20, PidsLimit: &pids}}, hostFields, "--memory, --pids-limit not supported"},
		{"read-only on host image", container.Config{Image: "host"}, container.HostConfig{ReadonlyRootfs: true}, hostFields, "--read-only not supported"},
		{"hostname on host image", container.Config{Image: "host", Hostname: "h"}, container.HostConfig{}, hostFields, "--hostname not supported"},
		{"devices", container.Config{Image: "x"}, container.HostConfig{Resources: container.Resources{Devices: []container.DeviceMapping{{PathOnHost: "/dev/sda"}}}}, isolatedFields, "--device not supported"},
		{"healthcheck", container.Config{Image: "x", Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}}}, container.HostConfig{}, isolatedFields, ""},
		{"annotations", container.Config{Image: "x"}, container.HostConfig{Annotations: map[string]string{"a": "b"}}, isolatedFields, "--annotation not supported"},
		{"dns", container.Config{Image: "x"}, container.HostConfig{DNS: []string{"1.1.1.1"}}, isolatedFields, "--dns not supported"},
		{"blkio", container.Config{Image: "x"}, container.HostConfig{Resources: container.Resources{BlkioWeight: 10}}, isolatedFields, "--blkio-weight not supported"},
		{"swappiness set", container.Config{Image: "x"}, container.HostConfig{Resources: container.Resources{MemorySwappiness: func() *int64 { v := int64(10); return &v }()}}, hostFields, "--memory-swappiness"},
	} {
		err := refuseUnsupported(&tt.cfg, &tt.hc, tt.allowed, "")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrUnsupported)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestBuildOCI(t *testing.T) {
	yes := true
	pids := int64(20)
	base := func(hc container.HostConfig) containerSpec {
		if hc.NetworkMode == "" {
			hc.NetworkMode = "host"
		}
		return containerSpec{ID: strings.Repeat("ab", 32), Root: "/srv/rootfs", Path: "/bin/sh", Args: []string{"-c", "true"},
			Config: &container.Config{}, HostConfig: &hc}
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
		s, err := buildOCI(base(tt.hc), ociInput{InitPath: "/usr/bin/tini-static"})
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
