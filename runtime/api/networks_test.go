package api

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"
)

// TestNetworksAndVolumes: what Compose reads before it removes a project
// (the networks and volumes of its label: none) and what it is refused.
func TestNetworksAndVolumes(t *testing.T) {
	td := startTestDaemon(t, testDir(t), true)
	killAll(t, td)
	ctx := context.Background()
	id := runHost(t, td, "onhost", &container.HostConfig{NetworkMode: "host"}, "sleep", "60")

	for _, tc := range []struct {
		name string
		f    filters.Args
		want string // names, sorted as listed
	}{
		{"all", filters.NewArgs(), "host none"},
		{"compose's project label", filters.NewArgs(filters.Arg("label", "com.docker.compose.project=p")), ""},
		{"name", filters.NewArgs(filters.Arg("name", "host")), "host"},
		{"driver null", filters.NewArgs(filters.Arg("driver", "null")), "none"},
		{"builtin", filters.NewArgs(filters.Arg("type", "builtin")), "host none"},
		{"custom", filters.NewArgs(filters.Arg("type", "custom")), ""},
		{"id prefix", filters.NewArgs(filters.Arg("id", networkID("none")[:12])), "none"},
	} {
		got, err := td.cli.NetworkList(ctx, network.ListOptions{Filters: tc.f})
		var names []string
		for _, n := range got {
			names = append(names, n.Name)
		}
		if err != nil || strings.Join(names, " ") != tc.want {
			t.Errorf("%s: NetworkList %v %v, want %q", tc.name, names, err, tc.want)
		}
	}
	if _, err := td.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("dangling", "true"))}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("NetworkList dangling: %v, want invalid filter", err)
	}

	host, err := td.cli.NetworkInspect(ctx, "host", network.InspectOptions{})
	if err != nil || host.Driver != "host" || host.Containers[id].Name != "onhost" {
		t.Errorf("NetworkInspect host: %+v %v, want driver host with the container", host, err)
	}
	if n, err := td.cli.NetworkInspect(ctx, networkID("none")[:12], network.InspectOptions{}); err != nil || n.Name != "none" || len(n.Containers) != 0 {
		t.Errorf("NetworkInspect by ID prefix: %+v %v", n, err)
	}
	if _, err := td.cli.NetworkInspect(ctx, "p_default", network.InspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("NetworkInspect p_default: %v, want not found", err)
	}
	if _, err := td.cli.NetworkCreate(ctx, "p_default", network.CreateOptions{}); !errdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), `network "p_default"`) || !strings.Contains(err.Error(), "network_mode: host") {
		t.Errorf("NetworkCreate: %v, want 501 naming the network and the way out", err)
	}

	vols, err := td.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project=p"))})
	if err != nil || vols.Volumes == nil || len(vols.Volumes) != 0 {
		t.Errorf("VolumeList: %+v %v, want an empty list", vols, err)
	}
	if _, err := td.cli.VolumeInspect(ctx, "data"); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "makes no volumes") {
		t.Errorf("VolumeInspect: %v, want not found saying why", err)
	}
	if _, err := td.cli.VolumeCreate(ctx, volume.CreateOptions{Name: "data"}); !errdefs.IsNotImplemented(err) {
		t.Errorf("VolumeCreate: %v, want not implemented", err)
	}
	if _, err := td.cli.ImageBuild(ctx, strings.NewReader(""), build.ImageBuildOptions{}); !errdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "builds no images") {
		t.Errorf("ImageBuild: %v, want 501 saying liveswapd builds no images", err)
	}
}
