package checks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/plan"
)

func TestLogRisk(t *testing.T) {
	tests := []struct {
		rate     float64
		downtime time.Duration
		risky    bool
		full     time.Duration
	}{
		{0, 10 * time.Second, false, 0},
		{100, 10 * time.Second, false, 655360 * time.Millisecond},
		{6553.6, 10 * time.Second, true, 10 * time.Second},
		{6000, 10 * time.Second, false, 0},
		{65536, 10 * time.Second, true, time.Second},
		{1 << 20, time.Second, true, 62500 * time.Microsecond},
	}
	for _, tt := range tests {
		full, risky := LogRisk(tt.rate, tt.downtime)
		if risky != tt.risky || (tt.full != 0 && (full-tt.full).Abs() > time.Millisecond) {
			t.Errorf("LogRisk(%v, %v) = %v, %v; want %v, %v", tt.rate, tt.downtime, full, risky, tt.full, tt.risky)
		}
	}
}

type fakeLogs struct {
	data  []byte
	since string
}

func (f *fakeLogs) Logs(_ context.Context, _ string, since time.Time) (io.ReadCloser, error) {
	f.since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	return io.NopCloser(bytes.NewReader(f.data)), nil
}

func inspected(name string, started time.Time, mutate func(*container.InspectResponse)) container.InspectResponse {
	c := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: name + "0123456789abcdef", Name: "/" + name,
			State:      &container.State{Status: "running", Running: true, Pid: 100, StartedAt: started.Format(time.RFC3339Nano)},
			HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always"}, LogConfig: container.LogConfig{Type: "json-file"}}},
		Config: &container.Config{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}}},
	}
	if mutate != nil {
		mutate(&c)
	}
	return c
}

func TestLogRate(t *testing.T) {
	var framed bytes.Buffer
	out := stdcopy.NewStdWriter(&framed, stdcopy.Stdout)
	errw := stdcopy.NewStdWriter(&framed, stdcopy.Stderr)
	out.Write(bytes.Repeat([]byte("x"), 60_000))
	errw.Write(bytes.Repeat([]byte("y"), 40_000))

	// Started 10s ago: the window is 10s, not 30s.
	c := inspected("web", time.Now().Add(-10*time.Second), nil)
	api := &fakeLogs{data: framed.Bytes()}
	rate, window, err := logRate(context.Background(), api, c)
	if err != nil {
		t.Fatal(err)
	}
	if window < 9*time.Second || window > 11*time.Second || rate < 9_000 || rate > 11_000 {
		t.Errorf("rate %v B/s over %v, want ~10000 over ~10s", rate, window)
	}
	if api.since == "" {
		t.Error("no --since")
	}
	// A TTY container's log is not framed.
	c = inspected("tty", time.Now().Add(-time.Hour), func(c *container.InspectResponse) { c.Config.Tty = true })
	rate, window, err = logRate(context.Background(), &fakeLogs{data: bytes.Repeat([]byte("z"), 30_000)}, c)
	if err != nil || window != logWindow || rate < 999 || rate > 1001 {
		t.Errorf("tty: rate %v over %v, %v", rate, window, err)
	}
	c = inspected("quiet", time.Now(), nil)
	if _, _, err := logRate(context.Background(), api, c); err == nil {
		t.Error("a container started just now has no rate")
	}
	c = inspected("syslog", time.Now().Add(-time.Hour), func(c *container.InspectResponse) { c.HostConfig.LogConfig.Type = "syslog" })
	if _, _, err := logRate(context.Background(), api, c); err == nil || !strings.Contains(err.Error(), "syslog") {
		t.Errorf("syslog driver: %v", err)
	}
}

func TestWorkloadChecks(t *testing.T) {
	now := time.Now().Add(-time.Hour)
	tests := []struct {
		id     string
		ctrs   []container.InspectResponse
		want   Status
		substr string
	}{
		{"workload.health", nil, OK, "no running containers"},
		{"workload.health", []container.InspectResponse{inspected("web", now, nil)}, OK, "1 running container(s)"},
		{"workload.health", []container.InspectResponse{inspected("web", now, func(c *container.InspectResponse) {
			c.State.Health = &container.Health{Status: "unhealthy"}
		})}, Fail, "web is unhealthy"},
		{"workload.health", []container.InspectResponse{inspected("web", now, func(c *container.InspectResponse) {
			c.State.Restarting, c.State.Status = true, "restarting"
		})}, Fail, "web is restarting"},
		{"workload.restart-policy", []container.InspectResponse{inspected("web", now, nil)}, OK, "all with a restart policy"},
		{"workload.restart-policy", []container.InspectResponse{inspected("web", now, nil), inspected("db", now, func(c *container.InspectResponse) {
			c.HostConfig.RestartPolicy.Name = "no"
		})}, Warn, "no restart policy: db"},
		{"workload.healthcheck", []container.InspectResponse{inspected("web", now, nil)}, OK, "all with a healthcheck"},
		{"workload.healthcheck", []container.InspectResponse{inspected("web", now, func(c *container.InspectResponse) {
			c.Config.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
		}), inspected("db", now, func(c *container.InspectResponse) { c.Config.Healthcheck = nil })}, Warn, "no healthcheck: web, db"},
		{"workload.log-rate", nil, Skip, "not applicable to liveswapd"},
	}
	byID := map[string]Check{}
	for _, c := range workloadChecks() {
		byID[c.ID] = c
	}
	for _, tt := range tests {
		kind := plan.Docker
		if tt.id == "workload.log-rate" {
			kind = plan.Liveswapd
		}
		env := NewEnv(&plan.Plan{Target: plan.Target{Kind: kind}}, Options{})
		env.status = memo[engine.Status]{done: true}
		env.containers = memo[[]container.InspectResponse]{done: true, v: tt.ctrs}
		r := byID[tt.id].Run(context.Background(), env)
		if r.Status != tt.want || !strings.Contains(r.Message, tt.substr) {
			t.Errorf("%s: = %s %q, want %s with %q", tt.id, r.Status, r.Message, tt.want, tt.substr)
		}
	}
}
