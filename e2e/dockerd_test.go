package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
)

// TestDockerdRestartUnderSystemd reproduces what FACTS.md measured: with
// live restore on, a RestartUnit of dockerd keeps nginx and redis serving only
// when the unit's KillMode is "process"; systemd's default "control-group"
// kills the containers anyway. The second case is the first one's negative
// twin: it proves the detectors (docker inspect, probes, and redis's run_id
// and key count) can fail. There redis is started again before the witness
// stops, so it answers with a new run_id and without the key it held.
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
			testbed.RedisSet(t, kv, "kept", "across the restart")

			r := restartWatchedThen(t, d.Host, []*testbed.Workload{web, kv}, func() { sd.RestartUnit(t, d.Unit) }, func() {
				if tt.wantSurvive {
					return
				}
				// Bring redis back: its answer, not only its silence, must
				// show the restart.
				testbed.DockerCLI(t, d.Host, "start", kv.Name)
				if err := testbed.WaitServing(kv, 20*time.Second); err != nil {
					t.Fatalf("redis did not serve after docker start: %v", err)
				}
			})
			before, after := r.RunIDBefore[kv.Name], r.RunIDAfter[kv.Name]
			t.Logf("redis run_id %q -> %q, keys %d -> %d", before, after, r.KeysBefore[kv.Name], r.KeysAfter[kv.Name])
			if before == "" || r.KeysBefore[kv.Name] != 1 {
				t.Fatalf("the witness read no run_id or not the one key before the restart: %q, %d keys", before, r.KeysBefore[kv.Name])
			}
			if tt.wantSurvive {
				r.RequireUninterrupted(t)
				if after != before || r.KeysAfter[kv.Name] != 1 {
					t.Errorf("redis run_id %q -> %q, keys 1 -> %d: want both unchanged", before, after, r.KeysAfter[kv.Name])
				}
				return
			}
			r.RequireInterrupted(t)
			if after == "" || after == before || r.KeysAfter[kv.Name] != 0 {
				t.Errorf("restarted redis: run_id %q -> %q, keys 1 -> %d; want a new run_id and no key", before, after, r.KeysAfter[kv.Name])
			}
			bad := strings.Join(r.Uninterrupted(), "\n")
			for _, want := range []string{kv.Name + ": redis run_id changed", kv.Name + ": redis keys 1 -> 0"} {
				if !strings.Contains(bad, want) {
					t.Errorf("the witness's verdict lacks %q:\n%s", want, bad)
				}
			}
		})
	}
}

// restartWatched watches ws with the testbed's witness from before
// restart() until every workload has been probed again after it.
func restartWatched(t *testing.T, host string, ws []*testbed.Workload, restart func()) *testbed.Witness {
	t.Helper()
	return restartWatchedThen(t, host, ws, restart, nil)
}

// restartWatchedThen is restartWatched with then() run after the restart,
// before the witness stops.
func restartWatchedThen(t *testing.T, host string, ws []*testbed.Workload, restart, then func()) *testbed.Witness {
	t.Helper()
	w := testbed.Watch(t, host, ws...)
	w.AwaitProbes(t, 5) // the probes run before the restart
	began := time.Now()
	restart()
	t.Logf("restart took %v", time.Since(began).Round(time.Millisecond))
	// An interruption that shows late is still seen: every workload is
	// probed again a while after the restart.
	w.AwaitProbes(t, 25)
	if then != nil {
		then()
	}
	return w.Stop(t)
}
