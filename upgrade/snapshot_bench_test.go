package upgrade

import (
	"fmt"
	"testing"
)

// snapshotOf makes a snapshot of n running containers, sorted by name as
// TakeSnapshot leaves them.
func snapshotOf(n int) *Snapshot {
	s := &Snapshot{Containers: make([]Container, n)}
	for i := range s.Containers {
		s.Containers[i] = Container{ID: fmt.Sprintf("%064x", i+1), Name: fmt.Sprintf("c-%05d", i), Pid: 1000 + i,
			StartedAt: "2026-11-28T18:00:00.000000000Z", Identity: map[string]string{"redis_run_id": "abc"}}
	}
	return s
}

// BenchmarkCompare is verify's comparison of a snapshot with the next one,
// nothing interrupted; the per-container cost must not grow with n.
func BenchmarkCompare(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			before, after := snapshotOf(n), snapshotOf(n)
			b.ReportAllocs()
			for b.Loop() {
				if ch := Compare(before, after); len(ch) != n || ch[n-1].Interrupted {
					b.Fatal("unexpected comparison")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/container")
		})
	}
}

// BenchmarkCompareAllRestarted is the worst case: every container has a new
// PID and start time, so every one gets a reason.
func BenchmarkCompareAllRestarted(b *testing.B) {
	before, after := snapshotOf(1000), snapshotOf(1000)
	for i := range after.Containers {
		after.Containers[i].Pid += 5000
		after.Containers[i].StartedAt = "2026-11-28T18:00:01.000000000Z"
	}
	b.ReportAllocs()
	for b.Loop() {
		if ch := Compare(before, after); !ch[0].Interrupted {
			b.Fatal("restart not seen")
		}
	}
}
