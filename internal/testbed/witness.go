package testbed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/liveswap/liveswap/internal/host/probe"
)

// Witness watches workloads independently of liveswap: the test's own
// probes every 20 ms, and before and after, each container's state as the
// docker CLI reports it and, for redis, its run_id and key count. A test
// that claims "nothing was interrupted" asks a Witness, never only
// liveswap's report.
type Witness struct {
	host      string
	workloads []*Workload
	cancel    context.CancelFunc
	probers   map[string]*probe.Prober

	Before, After map[string]State
	RunIDBefore   map[string]string
	RunIDAfter    map[string]string
	KeysBefore    map[string]int
	KeysAfter     map[string]int
	Probes        map[string]probe.Stats
}

// Watch records every workload's state and starts probing them.
func Watch(t T, host string, ws ...*Workload) *Witness {
	t.Helper()
	w := &Witness{host: host, workloads: ws, probers: map[string]*probe.Prober{},
		Before: map[string]State{}, After: map[string]State{}, RunIDBefore: map[string]string{}, RunIDAfter: map[string]string{},
		KeysBefore: map[string]int{}, KeysAfter: map[string]int{}, Probes: map[string]probe.Stats{}}
	for _, wl := range ws {
		w.Before[wl.Name] = Inspect(t, host, wl.Name)
		if wl.Kind == probe.Redis {
			w.RunIDBefore[wl.Name], w.KeysBefore[wl.Name] = redisIdentity(wl)
		}
	}
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(context.Background())
	for _, wl := range ws {
		p, err := probe.Start(ctx, wl.Spec(20*time.Millisecond))
		if err != nil {
			w.cancel()
			t.Fatalf("testbed: probing %s: %v", wl.Name, err)
		}
		w.probers[wl.Name] = p
	}
	t.Cleanup(w.cancel)
	return w
}

// Stop ends the probes and records every workload's state again.
func (w *Witness) Stop(t T) *Witness {
	t.Helper()
	for name, p := range w.probers {
		w.Probes[name] = p.Stop()
	}
	w.cancel()
	for _, wl := range w.workloads {
		w.After[wl.Name] = Inspect(t, w.host, wl.Name)
		if wl.Kind == probe.Redis {
			w.RunIDAfter[wl.Name], w.KeysAfter[wl.Name] = redisIdentity(wl)
		}
		s, b, a := w.Probes[wl.Name], w.Before[wl.Name], w.After[wl.Name]
		t.Logf("witness %s: pid %d -> %d, status %s -> %s (exit %d), probes %d sent, %d failed, max gap %.1f ms",
			wl.Name, b.Pid, a.Pid, b.Status, a.Status, a.ExitCode, s.Sent, s.Failed, s.MaxGapMS())
	}
	return w
}

// Uninterrupted lists what shows an interruption; empty means none: same
// PID, StartedAt and restart count, every probe answered, redis run_id and
// key count unchanged.
func (w *Witness) Uninterrupted() []string {
	var bad []string
	for _, wl := range w.workloads {
		b, a := w.Before[wl.Name], w.After[wl.Name]
		if !a.Running || a.Pid != b.Pid || a.StartedAt != b.StartedAt || a.RestartCount != b.RestartCount {
			bad = append(bad, fmt.Sprintf("%s was interrupted: before %+v, after %+v", wl.Name, b, a))
		}
		if s := w.Probes[wl.Name]; s.Sent == 0 || s.Failed != 0 {
			bad = append(bad, fmt.Sprintf("%s: %d of %d probes failed (first: %s)", wl.Name, s.Failed, s.Sent, s.FirstFailure))
		}
		if id, ok := w.RunIDBefore[wl.Name]; ok && w.RunIDAfter[wl.Name] != id {
			bad = append(bad, fmt.Sprintf("%s: redis run_id changed %q -> %q: the server restarted", wl.Name, id, w.RunIDAfter[wl.Name]))
		}
		if n, ok := w.KeysBefore[wl.Name]; ok && w.KeysAfter[wl.Name] != n {
			bad = append(bad, fmt.Sprintf("%s: redis keys %d -> %d", wl.Name, n, w.KeysAfter[wl.Name]))
		}
	}
	return bad
}

// RequireUninterrupted fails the test on any sign of an interruption.
func (w *Witness) RequireUninterrupted(t T) {
	t.Helper()
	if bad := w.Uninterrupted(); len(bad) > 0 {
		t.Fatalf("testbed witness: %s", strings.Join(bad, "; "))
	}
}

// RequireInterrupted fails the test unless every workload shows the
// interruption both ways: its process is not the one before, and a probe
// failed. It is the negative twin's proof that the witness can see one.
func (w *Witness) RequireInterrupted(t T) {
	t.Helper()
	var missed []string
	for _, wl := range w.workloads {
		b, a := w.Before[wl.Name], w.After[wl.Name]
		if a.Running && a.Pid == b.Pid && a.StartedAt == b.StartedAt {
			missed = append(missed, fmt.Sprintf("%s kept running (pid %d): the interruption was not detected", wl.Name, a.Pid))
		}
		if s := w.Probes[wl.Name]; s.Failed == 0 {
			missed = append(missed, fmt.Sprintf("%s: no probe failed (%d sent): the probe missed the interruption", wl.Name, s.Sent))
		}
	}
	if len(missed) > 0 {
		t.Fatalf("testbed witness: %s", strings.Join(missed, "; "))
	}
}

// redisIdentity is a redis server's run_id and key count ("" and -1 when
// it does not answer).
func redisIdentity(wl *Workload) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	id, keys := "", -1
	if info, err := probe.RedisInfo(ctx, wl.Addr, "server"); err == nil {
		id = info["run_id"]
	}
	if k, _, err := probe.RedisKeyspace(ctx, wl.Addr); err == nil {
		keys = int(k)
	}
	return id, keys
}
