package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/liveswap/liveswap/internal/testbed"
)

// TestLiveswapdHealthchecks drives healthchecks through the docker CLI
// 20.10 on a real liveswapd: --health-* flags (unhealthy, then healthy
// once the check passes), an image's HEALTHCHECK and --no-healthcheck, a
// check past its timeout, a refused interval; State.Health in inspect,
// (healthy) in ps, health_status events; the checks go on after a
// liveswapd restart, the state kept.
func TestLiveswapdHealthchecks(t *testing.T) {
	sd, l := liveswapdWithImage(t, "lsd-hc:1", dockerspec.DockerOCIImageConfig{
		ImageConfig:             ocispec.ImageConfig{Cmd: []string{"/bin/sleep", "600"}},
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{Healthcheck: &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "test -f /etc/added"}, Interval: 200 * time.Millisecond}},
	})
	cli := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(testbed.DockerCLI(t, l.Host, args...))
	}
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	health := func(id string) *container.Health {
		var h *container.Health
		json.Unmarshal([]byte(cli("inspect", "--format", "{{json .State.Health}}", id)), &h)
		return h
	}
	waitHealth := func(id, want string) *container.Health {
		t.Helper()
		var h *container.Health
		testbed.WaitUntil(t, id+" to be "+want, 30*time.Second, func() bool {
			h = health(id)
			return h != nil && h.Status == want
		})
		return h
	}

	// Flags: the check fails until a file exists, then passes.
	flagged := cli("run", "-d", "--name", "hc-flags", "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms", "--health-retries", "2", "lsd-hc:1")
	if h := health(flagged); h == nil || h.Status == container.Healthy {
		t.Errorf("a new container's health: %+v, want starting or unhealthy", h)
	}
	h := waitHealth(flagged, container.Unhealthy)
	if h.FailingStreak < 2 || len(h.Log) == 0 || h.Log[len(h.Log)-1].ExitCode != 1 {
		t.Errorf("unhealthy with %+v", h)
	}
	if ps := cli("ps", "--filter", "name=hc-flags", "--format", "{{.Status}}"); !strings.HasSuffix(ps, "(unhealthy)") {
		t.Errorf("docker ps status %q, want (unhealthy)", ps)
	}
	cli("exec", flagged, "/bin/sh", "-c", "echo > /tmp/ok")
	waitHealth(flagged, container.Healthy)
	if ps := cli("ps", "--filter", "name=hc-flags", "--format", "{{.Status}}"); !strings.HasSuffix(ps, "(healthy)") {
		t.Errorf("docker ps status %q, want (healthy)", ps)
	}
	ev := cli("events", "--since", since, "--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--filter", "container=hc-flags", "--filter", "event=health_status", "--format", "{{.Action}}")
	if !strings.Contains(ev, "health_status: unhealthy") || !strings.Contains(ev, "health_status: healthy") {
		t.Errorf("docker events: %q, want health_status: unhealthy then healthy", ev)
	}

	// The image's HEALTHCHECK, and --no-healthcheck turning it off.
	fromImage := cli("run", "-d", "--name", "hc-image", "lsd-hc:1")
	waitHealth(fromImage, container.Healthy)
	off := cli("run", "-d", "--name", "hc-off", "--no-healthcheck", "lsd-hc:1")
	if h := cli("inspect", "--format", "{{json .State.Health}}", off); h != "null" {
		t.Errorf("--no-healthcheck container has health %s", h)
	}

	// A check past its timeout counts as failed, and is killed.
	slow := cli("run", "-d", "--name", "hc-slow", "--health-cmd", "sleep 30", "--health-timeout", "300ms", "--health-interval", "200ms", "--health-retries", "1", "lsd-hc:1")
	h = waitHealth(slow, container.Unhealthy)
	if out := h.Log[len(h.Log)-1].Output; !strings.Contains(out, "exceeded timeout") {
		t.Errorf("timed out check's output %q", out)
	}
	testbed.WaitUntil(t, "the timed-out checks' sleep 30 to be killed", 20*time.Second, func() bool {
		return !strings.Contains(cli("top", slow), "sleep 30")
	})

	// Refused by liveswapd: an interval under 1ms; nothing created.
	out, err := testbed.Docker(l.Host, "run", "-d", "--health-cmd", "true", "--health-interval", "500us", "lsd-hc:1")
	if err == nil || !strings.Contains(out, "the shortest is 1ms") {
		t.Errorf("--health-interval 500us: %v %q, want refused", err, out)
	}

	// After a restart the checks go on from the state kept.
	before := health(fromImage)
	last := before.Log[len(before.Log)-1].End
	sd.RestartUnit(t, l.Unit)
	testbed.WaitUntil(t, "a check after the restart", 30*time.Second, func() bool {
		h := health(fromImage)
		return h != nil && h.Status == container.Healthy && len(h.Log) > 0 && h.Log[len(h.Log)-1].End.After(last)
	})
	cli("rm", "-f", flagged, fromImage, off, slow)
}
