package e2e

import (
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
)

// TestDockerdRestartUnderSystemd reproduces what FACTS.md measured: with
// live restore on, a RestartUnit of dockerd keeps nginx and redis serving only
// when the unit's KillMode is "process"; systemd's default "control-group"
// kills the containers anyway. The second case is the first one's negative
// twin: it proves the detectors (docker inspect, run_id, probes) can fail.
func TestDockerdRestartUnderSystemd(t *testing.T) {
	tests := []struct {
		killMode    string
		wantSurvive bool
	}{
		{"process", true},
		{"control-group", false},
	}
	for _, tt := range tests {
		t.Run("KillMode="+tt.killMode, func(t *testing.T) {
			testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
			sd := testbed.StartSystemd(t)
			d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: true, KillMode: tt.killMode})
			img := testbed.BuildImage(t, d)
			web := testbed.RunNginx(t, d.Host, img)
			kv := testbed.RunRedis(t, d.Host, img)

			r := restartWatched(t, d.Host, []*testbed.Workload{web, kv}, func() { sd.RestartUnit(t, d.Unit) })
			if tt.wantSurvive {
				r.RequireUninterrupted(t)
			} else {
				r.RequireInterrupted(t)
			}
		})
	}
}

// restartWatched watches ws with the testbed's witness from before
// restart() until a second after it.
func restartWatched(t *testing.T, host string, ws []*testbed.Workload, restart func()) *testbed.Witness {
	t.Helper()
	w := testbed.Watch(t, host, ws...)
	time.Sleep(300 * time.Millisecond) // probes running before the restart
	began := time.Now()
	restart()
	t.Logf("restart took %v", time.Since(began).Round(time.Millisecond))
	time.Sleep(time.Second) // an interruption that shows late is still seen
	return w.Stop(t)
}
