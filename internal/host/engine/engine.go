// Package engine is liveswap's one client of the Docker Engine API, spoken
// alike by dockerd and liveswapd: no target-specific code paths.
package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// DefaultEndpoint is dockerd's default socket.
const DefaultEndpoint = "unix:///var/run/docker.sock"

// Client is a Docker Engine API client bound to one endpoint. The SDK
// negotiates the API version once and only ever downward, so after the
// daemon restarts (another release: 1.45 for 26.1, 1.41 for 20.10) the
// client is rebuilt and negotiates again, in either direction.
type Client struct {
	Endpoint string
	ep       Endpoint

	mu  sync.Mutex
	sdk *client.Client
}

// New returns a client for endpoint (see ParseEndpoint; "" is
// DefaultEndpoint). The API version is negotiated with the daemon, so a
// current SDK talks to dockerd 20.10.
func New(endpoint string) (*Client, error) {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	sdk, err := newSDK(ep)
	if err != nil {
		return nil, fmt.Errorf("engine client for %s: %w", endpoint, err)
	}
	return &Client{Endpoint: endpoint, ep: ep, sdk: sdk}, nil
}

func newSDK(ep Endpoint) (*client.Client, error) {
	return client.NewClientWithOpts(
		client.WithHost(ep.String()),
		client.WithAPIVersionNegotiation(),
		// Fresh connections: a kept-alive one to a daemon that restarted
		// fails on first use.
		client.WithHTTPClient(&http.Client{Transport: transport(ep)}),
	)
}

// api is the current SDK client.
func (c *Client) api() *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sdk
}

// Renegotiate makes the next call negotiate the API version again: call
// it when the daemon behind the endpoint may have changed.
func (c *Client) Renegotiate() error {
	sdk, err := newSDK(c.ep)
	if err != nil {
		return fmt.Errorf("engine client for %s: %w", c.Endpoint, err)
	}
	c.mu.Lock()
	old := c.sdk
	c.sdk = sdk
	c.mu.Unlock()
	return old.Close()
}

func transport(ep Endpoint) http.RoundTripper {
	t := &http.Transport{DisableKeepAlives: true}
	if ep.Scheme == "unix" {
		t.DialContext = func(ctx context.Context, _, _ string) (netConn, error) {
			return dialUnix(ctx, ep.Address)
		}
	}
	return t
}

// API exposes the SDK client for calls this package does not wrap.
func (c *Client) API() *client.Client { return c.api() }

// Close releases the client's connections.
func (c *Client) Close() error { return c.api().Close() }

// Status is what the daemon says about itself.
type Status struct {
	Version     string // ServerVersion from /info (e.g. 20.10.24+dfsg1)
	APIVersion  string
	LiveRestore bool
	Containers  int
	Running     int
}

// Status asks the daemon for its version and live-restore setting.
func (c *Client) Status(ctx context.Context) (Status, error) {
	info, err := c.api().Info(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("engine %s: %w", c.Endpoint, err)
	}
	return Status{Version: info.ServerVersion, APIVersion: c.api().ClientVersion(), LiveRestore: info.LiveRestoreEnabled,
		Containers: info.Containers, Running: info.ContainersRunning}, nil
}

// Version is the daemon's version as GET /version reports it (e.g.
// 20.10.24+dfsg1).
func (c *Client) Version(ctx context.Context) (string, error) {
	v, err := c.api().ServerVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("engine %s: %w", c.Endpoint, err)
	}
	if v.Version == "" {
		return "", fmt.Errorf("engine %s: /version names no version", c.Endpoint)
	}
	return v.Version, nil
}

// Ping reports whether the API answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.api().Ping(ctx)
	return err
}

// WaitReady polls until the daemon answers /info or ctx ends, and returns
// what it answered and how long it took.
func (c *Client) WaitReady(ctx context.Context, every time.Duration) (Status, time.Duration, error) {
	begin := time.Now()
	for {
		// The daemon that answers may be another release than the one the
		// last call reached (the old one, still stopping, or the new one):
		// agree on the API version with whoever answers this time.
		if err := c.Renegotiate(); err != nil {
			return Status{}, time.Since(begin), err
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.Status(actx)
		cancel()
		if err == nil {
			return st, time.Since(begin), nil
		}
		select {
		case <-ctx.Done():
			return Status{}, time.Since(begin), fmt.Errorf("daemon at %s not ready: %w (last error: %v)", c.Endpoint, ctx.Err(), err)
		case <-time.After(every):
		}
	}
}

// Running lists the running containers.
func (c *Client) Running(ctx context.Context) ([]container.Summary, error) {
	list, err := c.api().ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing containers at %s: %w", c.Endpoint, err)
	}
	return list, nil
}

// Inspect returns one container's full state.
func (c *Client) Inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	r, err := c.api().ContainerInspect(ctx, id)
	if err != nil {
		return r, fmt.Errorf("inspecting container %s: %w", id, err)
	}
	return r, nil
}

// ComponentVersion is the version GET /version reports for one of the
// engine's components ("containerd", "runc", "docker-init"): dockerd asks
// containerd for its own when answering, so it is the running one's.
func (c *Client) ComponentVersion(ctx context.Context, name string) (string, error) {
	v, err := c.api().ServerVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("engine %s: %w", c.Endpoint, err)
	}
	for _, comp := range v.Components {
		if comp.Name == name {
			return comp.Version, nil
		}
	}
	return "", fmt.Errorf("engine %s: /version names no component %s", c.Endpoint, name)
}
