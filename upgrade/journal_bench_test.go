package upgrade

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkJournalAppend is one journaled phase transition: marshal, open,
// append, fsync, close. Apply writes about two per phase.
func BenchmarkJournalAppend(b *testing.B) {
	j, err := OpenJournal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	e := Entry{Time: time.Now().UTC(), Run: "20261128T180851Z", Phase: "restart", Status: "done"}
	b.ReportAllocs()
	for b.Loop() {
		if err := j.Append(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJournalLast reads back a journal of 100 runs (about 2000
// entries), as `liveswap status`, resume and the lock phase do.
func BenchmarkJournalLast(b *testing.B) {
	j, err := OpenJournal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	phases := []string{"preflight", "lock", "snapshot", "stage", "swap", "restart", "ready", "canary", "verify", "commit"}
	for r := 0; r < 100; r++ {
		run := fmt.Sprintf("run-%03d", r)
		for _, ph := range phases {
			j.Append(Entry{Run: run, Phase: ph, Status: "started"})
			j.Append(Entry{Run: run, Phase: ph, Status: "done"})
		}
		j.Append(Entry{Run: run, Phase: "end", Status: "end", Result: Upgraded})
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := j.Last()
		if err != nil || st.Run != "run-099" || !st.Ended() {
			b.Fatalf("last run %+v, %v", st, err)
		}
	}
}
