package discover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

// rootfs builds a container root filesystem in a temporary folder: each
// entry is "path" (an executable file), "path!" (a file without an execute
// bit), "path/" (a folder) or "path -> target" (a symlink).
func rootfs(t *testing.T, entries ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		name, target, link := strings.Cut(e, " -> ")
		p := filepath.Join(root, strings.TrimSuffix(strings.TrimSuffix(name, "!"), "/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case link:
			err = os.Symlink(target, p)
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasSuffix(name, "!"):
			err = os.WriteFile(p, []byte("x"), 0o644)
		default:
			err = os.WriteFile(p, []byte("#!x"), 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestHasExecutable(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		want    bool
	}{
		{"plain file", []string{"bin/sh"}, true},
		{"debian: merged /usr, relative links", []string{"usr/bin/dash", "usr/bin/sh -> dash", "bin -> usr/bin"}, true},
		{"alpine: absolute link resolved inside the root", []string{"bin/busybox", "bin/sh -> /bin/busybox"}, true},
		{"absolute link to a file only the host has", []string{"bin/sh -> /usr/lib/only-on-host"}, false},
		{"absolute folder link", []string{"usr/bin/sh", "bin -> /usr/bin"}, true},
		{"dot-dot stops at the root", []string{"bin/dash", "bin/sh -> ../../../../bin/dash"}, true},
		{"no execute bit", []string{"bin/sh!"}, false},
		{"a folder", []string{"bin/sh/"}, false},
		{"dangling", []string{"bin/sh -> dash"}, false},
		{"loop", []string{"bin/sh -> sh2", "bin/sh2 -> sh"}, false},
		{"no shell (distroless)", []string{"usr/bin/app"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := rootfs(t, tt.entries...)
			if got := hasExecutable(root, CanaryShell); got != tt.want {
				t.Errorf("hasExecutable = %v, want %v", got, tt.want)
			}
		})
	}
	// The host path a link names is never looked at: the host has a
	// /bin/sh, the root does not.
	root := rootfs(t, "bin/sh -> /bin/sh")
	if hasExecutable(root, CanaryShell) {
		t.Error("a link to /bin/sh was resolved on the host")
	}
}

// fakeEngine serves containers (by name) whose root filesystems are folders.
type fakeEngine struct {
	containers []fakeContainer
	images     map[string]string // ref -> ID
	listErr    error
}

type fakeContainer struct {
	name, ref, id string
	root          string
	stopped       bool
}

func (f *fakeEngine) Running(context.Context) ([]container.Summary, error) {
	var out []container.Summary
	for _, c := range f.containers {
		out = append(out, container.Summary{ID: c.name})
	}
	return out, f.listErr
}

func (f *fakeEngine) Inspect(_ context.Context, id string) (container.InspectResponse, error) {
	for i, c := range f.containers {
		if c.name == id {
			r := container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{Name: "/" + c.name, Image: c.id,
				State: &container.State{Running: !c.stopped, Pid: 100 + i}}, Config: &container.Config{Image: c.ref}}
			return r, nil
		}
	}
	return container.InspectResponse{}, errors.New("no such container")
}

func (f *fakeEngine) ImageID(_ context.Context, ref string) (string, error) {
	if id, ok := f.images[ref]; ok {
		return id, nil
	}
	return "", errors.New("no such image")
}

func TestCanary(t *testing.T) {
	shell := rootfs(t, "bin/sh")
	bare := rootfs(t, "app")
	tests := []struct {
		name       string
		engine     *fakeEngine
		wantImage  string
		wantFrom   string
		wantWhyHas string
		wantErr    bool
	}{
		{"the first container by name that has a shell",
			&fakeEngine{containers: []fakeContainer{
				{name: "zz", ref: "local/z:1", id: "sha256:z", root: shell},
				{name: "app", ref: "distroless/app", id: "sha256:d", root: bare},
				{name: "cache", ref: "local/base:1", id: "sha256:b", root: shell}},
				images: map[string]string{"local/base:1": "sha256:b", "local/z:1": "sha256:z", "distroless/app": "sha256:d"}},
			"local/base:1", "cache", "which has /bin/sh", false},
		{"a name that now means another image: by ID",
			&fakeEngine{containers: []fakeContainer{{name: "web", ref: "nginx:latest", id: "sha256:old", root: shell}},
				images: map[string]string{"nginx:latest": "sha256:new"}},
			"sha256:old", "web", "which has /bin/sh", false},
		{"a name the daemon no longer has: by ID",
			&fakeEngine{containers: []fakeContainer{{name: "web", ref: "gone:1", id: "sha256:g", root: shell}}},
			"sha256:g", "web", "which has /bin/sh", false},
		{"a stopped container does not count",
			&fakeEngine{containers: []fakeContainer{{name: "web", ref: "local/base:1", id: "sha256:b", root: shell, stopped: true}}},
			"", "", "no running container", false},
		{"no shell anywhere",
			&fakeEngine{containers: []fakeContainer{{name: "app", ref: "distroless/app", id: "sha256:d", root: bare}}},
			"", "", "none of the 1 running containers has /bin/sh", false},
		{"nothing running", &fakeEngine{}, "", "", "no running container", false},
		{"daemon down", &fakeEngine{listErr: errors.New("connection refused")}, "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootOf := func(pid int) string { return tt.engine.containers[pid-100].root }
			got, err := Canary(context.Background(), tt.engine, rootOf)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got.Canary.Image != tt.wantImage || got.From != tt.wantFrom || !strings.Contains(got.Why, tt.wantWhyHas) {
				t.Errorf("= %+v, want image %q from %q, why containing %q", got, tt.wantImage, tt.wantFrom, tt.wantWhyHas)
			}
			if tt.wantImage != "" && !reflect.DeepEqual(got.Canary.Command, []string{"/bin/sh", "-c", "true"}) {
				t.Errorf("command %v", got.Canary.Command)
			}
		})
	}
}
