package probe

import (
	"context"
	"net"
	"testing"
	"time"
)

// BenchmarkAttempt is the probe loop's own cost per attempt around a check
// that does nothing: timeout context, clocks, bookkeeping under the lock.
func BenchmarkAttempt(b *testing.B) {
	p := &Prober{spec: Spec{Name: "x", Kind: TCP, Timeout: time.Second}, check: func(context.Context) error { return nil }, start: time.Now()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.attempt(ctx)
	}
	if p.Snapshot().Sent != b.N {
		b.Fatal("attempts not counted")
	}
}

// BenchmarkAttemptTCP is one real attempt of a TCP probe on loopback.
func BenchmarkAttemptTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	spec := Spec{Name: "tcp", Kind: TCP, Target: ln.Addr().String(), Timeout: time.Second}
	p := &Prober{spec: spec, check: newCheck(spec), start: time.Now()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.attempt(ctx)
	}
	if s := p.Snapshot(); s.Failed > 0 {
		b.Fatalf("%d of %d attempts failed: %s", s.Failed, s.Sent, s.LastFailure)
	}
}
