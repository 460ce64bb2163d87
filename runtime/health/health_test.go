package health

import (
	"fmt"
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
		args, _ := Test(tt.h)
		if strings.Join(args, " ") != strings.Join(tt.args, " ") {
			t.Errorf("%s: command %q, want %q", tt.name, args, tt.args)
		}
		err := Check(tt.h)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		}
	}
}

// TestApply walks the health states through results, as dockerd's rules
// say: a success is healthy, retries failures in a row unhealthy, failures
// in the start period do not count.
func TestApply(t *testing.T) {
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
		h, startedAt := &container.Health{Status: container.Starting}, time.Now()
		for _, code := range tt.codes {
			old := h.Status
			changed := Apply(h, &container.HealthcheckResult{Start: time.Now(), End: time.Now(), ExitCode: code}, 3, tt.startPeriod, startedAt)
			if changed != (h.Status != old) {
				t.Errorf("%s: changed = %t going from %s to %s", tt.name, changed, old, h.Status)
			}
		}
		if h.Status != tt.want || h.FailingStreak != tt.streak || len(h.Log) != min(len(tt.codes), LogEntries) {
			t.Errorf("%s: %s streak %d log %d, want %s streak %d", tt.name, h.Status, h.FailingStreak, len(h.Log), tt.want, tt.streak)
		}
	}
}

// target is a run for Monitor: probes answer codes in turn; the run ends
// after the last.
type target struct {
	begun   bool
	codes   []int
	records []int
	exited  chan struct{}
}

func (t *target) Begin() (<-chan struct{}, *container.HealthcheckResult, bool) {
	return t.exited, nil, t.begun
}
func (t *target) Closing() bool { return false }
func (t *target) Probe(args []string, timeout time.Duration) *container.HealthcheckResult {
	code := t.codes[len(t.records)]
	return &container.HealthcheckResult{ExitCode: code}
}
func (t *target) Record(res *container.HealthcheckResult, retries int, startPeriod time.Duration) {
	t.records = append(t.records, res.ExitCode)
	if len(t.records) == len(t.codes) {
		close(t.exited)
	}
}

func TestMonitor(t *testing.T) {
	h := &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Millisecond}
	run := &target{begun: true, codes: []int{0, 1, 0}, exited: make(chan struct{})}
	Monitor(h, run) // returns when the run ends
	if fmt.Sprint(run.records) != "[0 1 0]" {
		t.Errorf("recorded %v, want the probes' [0 1 0]", run.records)
	}
	over := &target{codes: []int{0}, exited: make(chan struct{})}
	Monitor(h, over)
	if len(over.records) != 0 {
		t.Errorf("a run already over was probed: %v", over.records)
	}
	Monitor(&container.HealthConfig{Test: []string{"NONE"}}, &target{begun: true})
}

func TestOutput(t *testing.T) {
	var o Output
	n, err := o.Write(make([]byte, OutputMax+10))
	if n != OutputMax+10 || err != nil || len(o.String()) != OutputMax {
		t.Errorf("wrote %d, %v; kept %d, want all written and %d kept", n, err, len(o.String()), OutputMax)
	}
}
