package testbed

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StallRedis stalls w's redis server for d, as `DEBUG SLEEP` would (redis
// 7 refuses DEBUG unless configured for it): its one thread loops in a Lua
// script, so every other client waits — for less than redis's 5 s busy
// threshold, after which it would answer BUSY — while the process, its
// run_id and its keys stay the same. It returns once a PING from another
// connection goes unanswered; end waits for the stall to pass and for the
// server to answer again. end also runs at cleanup.
func StallRedis(t T, w *Workload, d time.Duration) (end func() error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", w.Addr, 2*time.Second)
	if err != nil {
		t.Fatalf("testbed: stalling %s: %v", w.Name, err)
	}
	loop := "local function now() local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) end " +
		"local e = now() + tonumber(ARGV[1]) while now() < e do end return 1"
	if _, err := c.Write(respArray("EVAL", loop, "0", strconv.FormatInt(d.Milliseconds(), 10))); err != nil {
		c.Close()
		t.Fatalf("testbed: stalling %s: %v", w.Name, err)
	}
	ended := make(chan struct{})
	go func() { bufio.NewReader(c).ReadString('\n'); close(ended) }()
	var once sync.Once
	var endErr error
	end = func() error {
		once.Do(func() {
			select {
			case <-ended:
			case <-time.After(d + 10*time.Second):
				endErr = fmt.Errorf("testbed: the script stalling %s did not end", w.Name)
			}
			c.Close()
			if err := WaitServing(w, 10*time.Second); err != nil && endErr == nil {
				endErr = fmt.Errorf("testbed: %s does not serve after the stall: %w", w.Name, err)
			}
		})
		return endErr
	}
	t.Cleanup(func() { end() })
	for {
		_, err := redisCall(w.Addr, 200*time.Millisecond, "PING")
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			return end
		}
		select {
		case <-ended:
			t.Fatalf("testbed: %s answered PING (%v) during the whole stall", w.Name, err)
		default:
		}
	}
}

// redisCall sends one command on a new connection and returns the first
// line of the reply within timeout; an error reply is returned as an error.
func redisCall(addr string, timeout time.Duration, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(respArray(args...)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if rest, ok := strings.CutPrefix(line, "-"); ok {
		return "", errors.New(rest)
	}
	return line, nil
}

func respArray(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

// DropIn writes a drop-in for unit (UNIT.d/NAME.conf) and reloads the
// manager, as an operator's override would; it is removed when the test
// ends.
func (s *Systemd) DropIn(t T, unit, name, content string) {
	t.Helper()
	dir := filepath.Join(s.UnitDir, unit+".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".conf"), []byte(content), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.Reload(t)
}
