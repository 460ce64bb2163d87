package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGaps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type obs struct {
		ms int
		up bool
	}
	tests := []struct {
		name  string
		obs   []obs
		endMS int
		want  time.Duration
	}{
		{"always up", []obs{{10, true}, {20, true}}, 30, 0},
		{"one gap, from the last answer to the next", []obs{{10, true}, {20, false}, {30, false}, {45, true}}, 50, 35 * time.Millisecond},
		{"the longest of two gaps", []obs{{10, false}, {20, true}, {30, false}, {100, true}, {110, false}, {120, true}}, 130, 80 * time.Millisecond},
		{"down at the start counts from the watch's start", []obs{{10, false}, {25, true}}, 30, 25 * time.Millisecond},
		{"still down at the end counts until then", []obs{{10, true}, {20, false}}, 200, 190 * time.Millisecond},
		{"a short gap at the end does not hide a longer one", []obs{{10, true}, {90, false}, {100, true}, {110, false}}, 120, 90 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gaps{last: t0}
			for _, o := range tt.obs {
				g.observe(at(o.ms), o.up)
			}
			if got := g.end(at(tt.endMS)); got != tt.want {
				t.Errorf("longest gap %v, want %v", got, tt.want)
			}
		})
	}
}

// fakePinger fails while down is set.
type fakePinger struct{ down atomic.Bool }

func (f *fakePinger) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

func TestWatchDowntime(t *testing.T) {
	var p fakePinger
	w := WatchDowntime(context.Background(), &p, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	p.down.Store(true)
	time.Sleep(100 * time.Millisecond)
	p.down.Store(false)
	time.Sleep(20 * time.Millisecond)
	if got := w.Stop(); got < 100*time.Millisecond || got > time.Second {
		t.Errorf("downtime %v, want about 100ms", got)
	}

	// Stopped while down: the gap runs until Stop.
	p.down.Store(true)
	w = WatchDowntime(context.Background(), &p, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if got := w.Stop(); got < 50*time.Millisecond {
		t.Errorf("downtime %v while still down, want at least 50ms", got)
	}
}

func TestWatchCountsCalls(t *testing.T) {
	var n int
	var mu sync.Mutex
	p := pingFunc(func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%3 == 0 {
			return errors.New("connection refused")
		}
		return nil
	})
	w := WatchDowntime(context.Background(), p, time.Millisecond)
	for {
		if calls, _ := w.Calls(); calls >= 9 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	w.Stop()
	calls, errs := w.Calls()
	if errs != calls/3 {
		t.Errorf("%d errors of %d calls, want every third", errs, calls)
	}
}

// pingFunc is a Pinger made of a function.
type pingFunc func(context.Context) error

func (f pingFunc) Ping(ctx context.Context) error { return f(ctx) }
