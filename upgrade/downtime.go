package upgrade

import (
	"context"
	"sync"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
)

// downtimeWatch pings the API every interval and keeps the longest window
// in which it did not answer (from the last answer before the gap to the
// first answer after it).
type downtimeWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	last   time.Time
	down   bool
	max    time.Duration
}

func watchDowntime(ctx context.Context, c engine.Engine, interval time.Duration) *downtimeWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &downtimeWatch{cancel: cancel, done: make(chan struct{}), last: time.Now()}
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			err := c.Ping(pctx)
			pcancel()
			if ctx.Err() != nil {
				return
			}
			now := time.Now()
			w.mu.Lock()
			if err == nil {
				if w.down {
					if g := now.Sub(w.last); g > w.max {
						w.max = g
					}
					w.down = false
				}
				w.last = now
			} else {
				w.down = true
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

// Stop ends the watch; a daemon still down counts until now.
func (w *downtimeWatch) Stop() time.Duration {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down {
		if g := time.Since(w.last); g > w.max {
			w.max = g
		}
	}
	return w.max
}
