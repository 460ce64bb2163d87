package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// TestRecordHealth: the store applies a result to the run it was probed
// in only, and a change of status is an event.
func TestRecordHealth(t *testing.T) {
	d := &Daemon{events: newEventBus()}
	_, ch := d.events.subscribe(time.Time{})
	c := newContainer(ContainerSpec{ID: strings.Repeat("a", 64), Config: &container.Config{}}, ContainerState{Status: StatusRunning, StartedAt: time.Now(),
		Health: &container.Health{Status: container.Starting}}, t.TempDir(), "")
	c.removed = true // no state.json
	fail := &container.HealthcheckResult{Start: time.Now(), End: time.Now(), ExitCode: 1}
	d.recordHealth(c, 1, fail, 1, 0) // an older run's check
	if h := c.st.Health; h.Status != container.Starting || len(h.Log) != 0 {
		t.Fatalf("a result of another run was applied: %+v", h)
	}
	d.recordHealth(c, 0, fail, 1, 0)
	if h := c.st.Health; h.Status != container.Unhealthy || len(h.Log) != 1 {
		t.Fatalf("after one failure with retries 1: %s, log %d; want unhealthy, 1", h.Status, len(h.Log))
	}
	select {
	case m := <-ch:
		if m.Action != "health_status: unhealthy" {
			t.Errorf("event %q, want health_status: unhealthy", m.Action)
		}
	default:
		t.Error("no health_status event")
	}
}
