package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
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
