package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/probe"
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
				r.requireUninterrupted(t)
			} else {
				r.requireInterrupted(t)
			}
		})
	}
}

// watched is what a restart did to a set of workloads.
type watched struct {
	workloads     []*testbed.Workload
	before, after map[string]testbed.State
	runIDBefore   map[string]string
	runIDAfter    map[string]string
	probes        map[string]probe.Stats
}

// restartWatched records every workload's state, probes them all every
// 20 ms from before restart() until a second after it, and records again.
func restartWatched(t *testing.T, host string, ws []*testbed.Workload, restart func()) *watched {
	t.Helper()
	r := &watched{workloads: ws, before: map[string]testbed.State{}, after: map[string]testbed.State{},
		runIDBefore: map[string]string{}, runIDAfter: map[string]string{}, probes: map[string]probe.Stats{}}
	for _, w := range ws {
		r.before[w.Name] = testbed.Inspect(t, host, w.Name)
		if w.Kind == probe.Redis {
			r.runIDBefore[w.Name] = testbed.RedisRunID(t, w)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probers := map[string]*probe.Prober{}
	for _, w := range ws {
		p, err := probe.Start(ctx, w.Spec(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		probers[w.Name] = p
	}
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	restart()
	t.Logf("restart took %v", time.Since(began).Round(time.Millisecond))
	time.Sleep(time.Second)
	for name, p := range probers {
		r.probes[name] = p.Stop()
	}
	for _, w := range ws {
		r.after[w.Name] = testbed.Inspect(t, host, w.Name)
		if w.Kind == probe.Redis {
			if info, err := probe.RedisInfo(context.Background(), w.Addr, "server"); err == nil {
				r.runIDAfter[w.Name] = info["run_id"]
			}
		}
	}
	for _, w := range ws {
		s := r.probes[w.Name]
		b, a := r.before[w.Name], r.after[w.Name]
		t.Logf("%s: pid %d -> %d, status %s -> %s (exit %d), probes %d sent, %d failed, max gap %.1f ms",
			w.Name, b.Pid, a.Pid, b.Status, a.Status, a.ExitCode, s.Sent, s.Failed, s.MaxGapMS())
	}
	return r
}

func (r *watched) requireUninterrupted(t *testing.T) {
	t.Helper()
	for _, w := range r.workloads {
		b, a := r.before[w.Name], r.after[w.Name]
		if !a.Running || a.Pid != b.Pid || a.StartedAt != b.StartedAt || a.RestartCount != b.RestartCount {
			t.Errorf("%s was interrupted: before %+v, after %+v", w.Name, b, a)
		}
		if s := r.probes[w.Name]; s.Sent == 0 || s.Failed != 0 {
			t.Errorf("%s: %d of %d probes failed (first: %s)", w.Name, s.Failed, s.Sent, s.FirstFailure)
		}
		if id, ok := r.runIDBefore[w.Name]; ok && r.runIDAfter[w.Name] != id {
			t.Errorf("%s: redis run_id changed %q -> %q: the server restarted", w.Name, id, r.runIDAfter[w.Name])
		}
	}
}

func (r *watched) requireInterrupted(t *testing.T) {
	t.Helper()
	for _, w := range r.workloads {
		b, a := r.before[w.Name], r.after[w.Name]
		if a.Running && a.Pid == b.Pid && a.StartedAt == b.StartedAt {
			t.Errorf("%s kept running (pid %d): the interruption was not detected", w.Name, a.Pid)
		}
		if s := r.probes[w.Name]; s.Failed == 0 {
			t.Errorf("%s: no probe failed (%d sent): the probe missed the interruption", w.Name, s.Sent)
		}
	}
}
