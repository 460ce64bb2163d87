// Package probe checks workloads continuously while a daemon is swapped:
// HTTP GETs, Redis PINGs and TCP connects at a fixed interval, recording
// every failure and the longest gap between two successes.
package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"
)

// Kind names a probe protocol.
type Kind string

// The probe kinds liveswap knows.
const (
	HTTP  Kind = "http"
	Redis Kind = "redis"
	TCP   Kind = "tcp"
)

// Spec describes one probe.
type Spec struct {
	Name     string        // usually the container's name
	Kind     Kind          // http, redis or tcp
	Target   string        // URL for http, host:port for redis and tcp
	Interval time.Duration // between the starts of two attempts; default 50ms
	Timeout  time.Duration // per attempt; default 1s
}

// Stats is what a probe saw. MaxGap is the longest time between two
// successful attempts (or between the start and the first success, or the
// last success and the end), so a workload that answers nothing at all shows
// the whole run as its gap.
type Stats struct {
	Name         string        `json:"name"`
	Kind         Kind          `json:"kind"`
	Target       string        `json:"target"`
	Sent         int           `json:"sent"`
	Failed       int           `json:"failed"`
	MaxGap       time.Duration `json:"-"`
	P99          time.Duration `json:"-"`
	FirstFailure string        `json:"first_failure,omitempty"`
	LastFailure  string        `json:"last_failure,omitempty"`
}

// MaxGapMS and P99MS give the durations in milliseconds for reports.
func (s Stats) MaxGapMS() float64 { return ms(s.MaxGap) }

// P99MS is the 99th percentile latency of successful attempts in ms.
func (s Stats) P99MS() float64 { return ms(s.P99) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// checkFunc performs one attempt.
type checkFunc func(ctx context.Context) error

// Prober runs one Spec until stopped.
type Prober struct {
	spec   Spec
	check  checkFunc
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	stats       Stats
	start       time.Time
	lastSuccess time.Time
	latencies   []time.Duration
}

// Validate reports a problem with the spec in words an operator can act on.
func (s Spec) Validate() error {
	switch s.Kind {
	case HTTP:
		u, err := url.Parse(s.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("probe %q: target %q is not an http(s) URL (example: http://127.0.0.1:8080/)", s.Name, s.Target)
		}
	case Redis, TCP:
		if _, _, err := net.SplitHostPort(s.Target); err != nil {
			return fmt.Errorf("probe %q: target %q is not HOST:PORT (example: 127.0.0.1:6379): %w", s.Name, s.Target, err)
		}
	default:
		return fmt.Errorf("probe %q: unknown kind %q (use http, redis or tcp)", s.Name, s.Kind)
	}
	return nil
}

// Start validates spec and begins probing in the background until ctx ends
// or Stop is called.
func Start(ctx context.Context, spec Spec) (*Prober, error) {
	if spec.Interval <= 0 {
		spec.Interval = 50 * time.Millisecond
	}
	if spec.Timeout <= 0 {
		spec.Timeout = time.Second
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	p := &Prober{spec: spec, check: newCheck(spec), done: make(chan struct{})}
	p.stats = Stats{Name: spec.Name, Kind: spec.Kind, Target: spec.Target}
	ctx, p.cancel = context.WithCancel(ctx)
	p.start = time.Now()
	go p.loop(ctx)
	return p, nil
}

func newCheck(spec Spec) checkFunc {
	switch spec.Kind {
	case HTTP:
		return httpCheck(spec.Target)
	case Redis:
		return func(ctx context.Context) error { return redisPing(ctx, spec.Target) }
	default:
		return func(ctx context.Context) error { return tcpConnect(ctx, spec.Target) }
	}
}

func (p *Prober) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.spec.Interval)
	defer t.Stop()
	for {
		p.attempt(ctx)
		if ctx.Err() != nil {
			return // a stop during the attempt: no other
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// attempt probes once and counts the outcome. Stopping the prober does not
// cut an attempt short: a workload that stopped answering just before the
// end would otherwise leave only a dropped attempt, never a failure. The
// attempt's own timeout bounds the wait.
func (p *Prober) attempt(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.spec.Timeout)
	begin := time.Now()
	err := p.check(actx)
	cancel()
	end := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Sent++
	if err != nil {
		p.stats.Failed++
		msg := fmt.Sprintf("%s: %v", end.Format(time.RFC3339Nano), err)
		if p.stats.FirstFailure == "" {
			p.stats.FirstFailure = msg
		}
		p.stats.LastFailure = msg
		return
	}
	p.latencies = append(p.latencies, end.Sub(begin))
	p.noteGap(end)
	p.lastSuccess = end
}

// noteGap extends MaxGap with the time since the previous success (or the
// start). Callers hold mu.
func (p *Prober) noteGap(now time.Time) {
	from := p.lastSuccess
	if from.IsZero() {
		from = p.start
	}
	if g := now.Sub(from); g > p.stats.MaxGap {
		p.stats.MaxGap = g
	}
}

// Snapshot returns the stats so far without stopping.
func (p *Prober) Snapshot() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.P99 = percentile(p.latencies, 0.99)
	return s
}

// Stop ends probing and returns the final stats; the time since the last
// success counts as a gap, so a workload that died just before Stop shows.
func (p *Prober) Stop() Stats {
	p.cancel()
	<-p.done
	p.mu.Lock()
	p.noteGap(time.Now())
	p.mu.Unlock()
	return p.Snapshot()
}

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * q)
	return s[i]
}

func httpCheck(target string) checkFunc {
	// A fresh connection per attempt: a listener that stopped accepting must
	// show, which a kept-alive connection would hide.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
}

func tcpConnect(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// Check makes a single attempt of spec, for readiness waits.
func Check(ctx context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if spec.Timeout <= 0 {
		spec.Timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	return newCheck(spec)(ctx)
}
