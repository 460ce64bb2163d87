package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

func TestHealthConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    *container.HealthConfig
		args []string
		err  string
	}{
		{"none given", nil, nil, ""},
		{"NONE", &container.HealthConfig{Test: []string{"NONE"}}, nil, ""},
		{"CMD", &container.HealthConfig{Test: []string{"CMD", "cat", "/ok"}}, []string{"cat", "/ok"}, ""},
		{"CMD-SHELL", &container.HealthConfig{Test: []string{"CMD-SHELL", "test -f /ok"}}, []string{"/bin/sh", "-c", "test -f /ok"}, ""},
		{"unknown kind", &container.HealthConfig{Test: []string{"HTTP", "x"}}, nil, "use CMD, CMD-SHELL or NONE"},
		{"interval too short", &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Microsecond}, []string{"true"}, "--health-interval"},
		{"negative retries", &container.HealthConfig{Test: []string{"CMD", "true"}, Retries: -1}, []string{"true"}, "--health-retries"},
		{"start interval", &container.HealthConfig{Test: []string{"CMD", "true"}, StartInterval: time.Second}, []string{"true"}, "--health-start-interval"},
	} {
		args, _ := healthTest(tt.h)
		if strings.Join(args, " ") != strings.Join(tt.args, " ") {
			t.Errorf("%s: command %q, want %q", tt.name, args, tt.args)
		}
		err := checkHealthConfig(tt.h)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		}
	}
}

// TestRecordHealth walks the health states through results, as dockerd's
// rules say: a success is healthy, retries failures in a row unhealthy,
// failures in the start period do not count.
func TestRecordHealth(t *testing.T) {
	d := &Daemon{events: newEventBus()}
	for _, tt := range []struct {
		name        string
		codes       []int
		startPeriod time.Duration
		want        string
		streak      int
	}{
		{"first success", []int{0}, 0, container.Healthy, 0},
		{"two failures of three", []int{1, 1}, 0, container.Starting, 2},
		{"three failures", []int{1, 1, 1}, 0, container.Unhealthy, 3},
		{"recovers", []int{1, 1, 1, 0}, 0, container.Healthy, 0},
		{"streak broken", []int{1, 1, 0, 1, 1}, 0, container.Healthy, 2},
		{"in the start period", []int{1, 1, 1, 1}, time.Hour, container.Starting, 0},
		{"healthy then failing in the start period", []int{0, 1, 1, 1}, time.Hour, container.Unhealthy, 3},
	} {
		c := newContainer(containerSpec{ID: strings.Repeat("a", 64), Config: &container.Config{}}, containerState{Status: StatusRunning, StartedAt: time.Now(),
			Health: &container.Health{Status: container.Starting}}, t.TempDir(), "")
		c.removed = true // no state.json
		for _, code := range tt.codes {
			d.recordHealth(c, 0, &container.HealthcheckResult{Start: time.Now(), End: time.Now(), ExitCode: code}, 3, tt.startPeriod)
		}
		if h := c.st.Health; h.Status != tt.want || h.FailingStreak != tt.streak || len(h.Log) != min(len(tt.codes), healthLogEntries) {
			t.Errorf("%s: %s streak %d log %d, want %s streak %d", tt.name, h.Status, h.FailingStreak, len(h.Log), tt.want, tt.streak)
		}
	}
}
