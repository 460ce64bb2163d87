package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/testbed"
)

func TestNewRejectsBadEndpoint(t *testing.T) {
	for _, ep := range []string{"/var/run/docker.sock", "http://x", "npipe:////./pipe/docker"} {
		if _, err := engine.New(ep); err == nil || !strings.Contains(err.Error(), "unix://") {
			t.Errorf("New(%q) = %v, want an error teaching unix://", ep, err)
		}
	}
}

// TestStatusFromRealDockerd checks the client against dockerd 20.10 (API
// 1.41), which a current SDK must negotiate down to.
func TestStatusFromRealDockerd(t *testing.T) {
	testbed.Require(t, testbed.DockerdBin, testbed.DockerBin)
	sd := testbed.StartSystemd(t)
	d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: true})
	c, err := engine.New(d.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, _, err := c.WaitReady(ctx, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Version, "20.10.") || !st.LiveRestore || st.APIVersion != "1.41" {
		t.Fatalf("status = %+v", st)
	}
	img := testbed.BuildImage(t, d)
	w := testbed.RunRedis(t, d.Host, img)
	list, err := c.Running(ctx)
	if err != nil || len(list) != 1 || list[0].Names[0] != "/"+w.Name {
		t.Fatalf("running = %+v, %v", list, err)
	}
	in, err := c.Inspect(ctx, w.Name)
	if err != nil || in.State.Pid == 0 {
		t.Fatalf("inspect = %+v, %v", in.State, err)
	}
}
