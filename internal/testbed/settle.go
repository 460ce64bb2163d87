package testbed

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"
)

// WaitUntil polls cond until it holds, failing the test after timeout with
// what it was waiting for. Tests wait for a condition this way, never for a
// fixed time.
func WaitUntil(t T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("testbed: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AwaitProbes waits until every workload has been probed n more times
// from now, answered or not: the witness has then looked at each of them
// after whatever happened before the call, however slow the host is.
func (w *Witness) AwaitProbes(t T, n int) {
	t.Helper()
	from := map[string]int{}
	for name, p := range w.probers {
		from[name] = p.Snapshot().Sent
	}
	// A probe takes at most its 500 ms timeout plus the 20 ms interval.
	WaitUntil(t, fmt.Sprintf("%d more probes of every workload", n), time.Duration(n)*time.Second+10*time.Second, func() bool {
		for name, p := range w.probers {
			if p.Snapshot().Sent < from[name]+n {
				return false
			}
		}
		return true
	})
}

// RedisSet stores key in a redis workload, so the witness's key count has
// something to lose: a restarted redis (nothing is kept on disk) comes back
// empty.
func RedisSet(t T, w *Workload, key, value string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", w.Addr, 2*time.Second)
	if err != nil {
		t.Fatalf("testbed: redis %s: %v", w.Addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(value), value)
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.TrimSpace(reply) != "+OK" {
		t.Fatalf("testbed: SET %s on %s: %q %v", key, w.Addr, reply, err)
	}
}
