package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// Engine is what liveswap asks of a daemon. dockerd and liveswapd both
// speak the Docker Engine API, so *Client serves every target kind; the
// interface is the seam where a kind that speaks another API would plug in.
type Engine interface {
	Status(ctx context.Context) (Status, error)
	Ping(ctx context.Context) error
	WaitReady(ctx context.Context, every time.Duration) (Status, time.Duration, error)
	Running(ctx context.Context) ([]container.Summary, error)
	Inspect(ctx context.Context, id string) (container.InspectResponse, error)
	Swarm(ctx context.Context) (bool, error)
	Logs(ctx context.Context, id string, since time.Time) (io.ReadCloser, error)
	RunCanary(ctx context.Context, c Canary) error
	// Renegotiate makes the next call agree on the API version anew.
	Renegotiate() error
	// ImageID is the ID of the image ref names (ErrNoImage when the daemon
	// has none).
	ImageID(ctx context.Context, ref string) (string, error)
	// Address is the endpoint it talks to (unix:///run/x.sock).
	Address() string
	Close() error
}

var _ Engine = (*Client)(nil)

// Components is an engine that reports the versions of the programs it
// runs on (GET /version Components: containerd, runc); liveswapd has none.
type Components interface {
	ComponentVersion(ctx context.Context, name string) (string, error)
}

var _ Components = (*Client)(nil)

// Canary is a short-lived container the daemon must be able to run.
type Canary struct {
	Name    string
	Image   string
	Command []string
}

// Address is the endpoint the client talks to.
func (c *Client) Address() string { return c.Endpoint }

// Swarm reports whether the daemon is a swarm node.
func (c *Client) Swarm(ctx context.Context) (bool, error) {
	info, err := c.api().Info(ctx)
	if err != nil {
		return false, fmt.Errorf("engine %s: %w", c.Endpoint, err)
	}
	s := string(info.Swarm.LocalNodeState)
	return s != "" && s != "inactive", nil
}

// Logs returns a container's stdout and stderr since a time, in the
// Engine API's multiplexed form.
func (c *Client) Logs(ctx context.Context, id string, since time.Time) (io.ReadCloser, error) {
	return c.api().ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true,
		Since: fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())})
}

// ErrNoImage: the daemon has no image of that name.
var ErrNoImage = errors.New("no such image")

// ImageID returns the ID of the image ref names.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	in, err := c.api().ImageInspect(ctx, ref)
	if client.IsErrNotFound(err) {
		return "", fmt.Errorf("%s at %s: %w", ref, c.Endpoint, ErrNoImage)
	}
	if err != nil {
		return "", fmt.Errorf("inspecting image %s at %s: %w", ref, c.Endpoint, err)
	}
	return in.ID, nil
}

// RunCanary creates, starts and waits for a container and removes it,
// whatever happened; an exit status other than 0 is an error.
func (c *Client) RunCanary(ctx context.Context, k Canary) error {
	// A run resumed after it was killed during its canary finds that
	// canary still there under the same name: remove it, but only a
	// container that carries the canary label.
	if old, err := c.api().ContainerInspect(ctx, k.Name); err == nil && old.Config != nil && old.Config.Labels["io.liveswap.canary"] == "1" {
		if err := c.api().ContainerRemove(ctx, old.ID, container.RemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("removing the canary %s left by an interrupted run: %w", k.Name, err)
		}
	}
	created, err := c.api().ContainerCreate(ctx, &container.Config{Image: k.Image, Cmd: k.Command, Labels: map[string]string{"io.liveswap.canary": "1"}},
		&container.HostConfig{NetworkMode: "host"}, nil, nil, k.Name)
	if err != nil {
		return fmt.Errorf("creating canary %s from %s: %w", k.Name, k.Image, err)
	}
	defer c.api().ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	waitC, errC := c.api().ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := c.api().ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting canary %s: %w", k.Name, err)
	}
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			return fmt.Errorf("canary %s (%s %s) exited %d", k.Name, k.Image, strings.Join(k.Command, " "), w.StatusCode)
		}
	case err := <-errC:
		return fmt.Errorf("waiting for canary %s: %w", k.Name, err)
	}
	return nil
}
