package engine

import (
	"context"
	"sync"
	"time"
)

// Pinger is what a downtime watch needs of a daemon; *Client is one.
type Pinger interface {
	Ping(ctx context.Context) error
}

// pingTimeout bounds one ping: an API that takes longer counts as down.
const pingTimeout = time.Second

// Downtime is a running watch of how long an engine API did not answer.
type Downtime struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	gaps   gaps
	calls  int // pings answered or failed
	errors int // pings that failed: refused, reset, an error status, no answer within pingTimeout
}

// WatchDowntime pings p every interval until Stop and keeps the longest
// window in which it did not answer, from the last answer before the gap
// to the first answer after it: what a client of the daemon saw, not just
// the time the process was gone.
func WatchDowntime(ctx context.Context, p Pinger, every time.Duration) *Downtime {
	ctx, cancel := context.WithCancel(ctx)
	w := &Downtime{cancel: cancel, done: make(chan struct{}), gaps: gaps{last: time.Now()}}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			pctx, pcancel := context.WithTimeout(ctx, pingTimeout)
			err := p.Ping(pctx)
			pcancel()
			if ctx.Err() != nil {
				return // a ping cut short by Stop says nothing of the daemon
			}
			w.mu.Lock()
			w.gaps.observe(time.Now(), err == nil)
			w.calls++
			if err != nil {
				w.errors++
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Stop ends the watch and returns the longest gap; a daemon still down
// counts until now.
func (w *Downtime) Stop() time.Duration {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gaps.end(time.Now())
}

// Calls is how many API calls the watch made and how many failed, as a
// client of the daemon saw them: behind a socket unit (docker.socket), a
// call made while the daemon restarts waits instead of failing.
func (w *Downtime) Calls() (calls, errors int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls, w.errors
}

// gaps is the bookkeeping of a watch, apart from the clock and the pinging.
type gaps struct {
	last time.Time // the last answer
	down bool      // no answer since last
	max  time.Duration
}

func (g *gaps) observe(now time.Time, up bool) {
	if !up {
		g.down = true
		return
	}
	if g.down {
		g.max = max(g.max, now.Sub(g.last))
		g.down = false
	}
	g.last = now
}

func (g *gaps) end(now time.Time) time.Duration {
	if g.down {
		return max(g.max, now.Sub(g.last))
	}
	return g.max
}
