package probe

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeRedis answers PING and INFO like Redis does; it only serves the
// probe's own unit tests (the end-to-end tests use the real redis-server).
func fakeRedis(t *testing.T) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				var args []string
				line, _ := r.ReadString('\n')
				if !strings.HasPrefix(line, "*") {
					return
				}
				n := int(line[1] - '0')
				for i := 0; i < n; i++ {
					r.ReadString('\n')
					a, _ := r.ReadString('\n')
					args = append(args, strings.TrimSpace(a))
				}
				switch strings.ToUpper(args[0]) {
				case "PING":
					c.Write([]byte("+PONG\r\n"))
				case "INFO":
					body := "# Server\r\nrun_id:abc123\r\nprocess_id:42\r\n"
					c.Write([]byte("$" + itoa(len(body)) + "\r\n" + body + "\r\n"))
				}
			}(c)
		}
	}()
	return ln.Addr().String(), func() { ln.Close() }
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbeKinds(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer web.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer broken.Close()
	redis, stop := fakeRedis(t)
	defer stop()
	dead := closedAddr(t)

	tests := []struct {
		name     string
		spec     Spec
		wantFail bool
	}{
		{"http up", Spec{Kind: HTTP, Target: web.URL}, false},
		{"http 502", Spec{Kind: HTTP, Target: broken.URL}, true},
		{"http refused", Spec{Kind: HTTP, Target: "http://" + dead + "/"}, true},
		{"redis up", Spec{Kind: Redis, Target: redis}, false},
		{"redis refused", Spec{Kind: Redis, Target: dead}, true},
		{"tcp up", Spec{Kind: TCP, Target: redis}, false},
		{"tcp refused", Spec{Kind: TCP, Target: dead}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Name = tt.name
			tt.spec.Interval = 5 * time.Millisecond
			p, err := Start(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(60 * time.Millisecond)
			s := p.Stop()
			if s.Sent == 0 {
				t.Fatalf("no attempt made: %+v", s)
			}
			if got := s.Failed > 0; got != tt.wantFail {
				t.Fatalf("failed=%d of %d, want failures=%v (first: %s)", s.Failed, s.Sent, tt.wantFail, s.FirstFailure)
			}
			if tt.wantFail && s.Failed == s.Sent && s.MaxGap < 50*time.Millisecond {
				t.Fatalf("all attempts failed but MaxGap is only %v", s.MaxGap)
			}
		})
	}
}

func TestGapCoversOutage(t *testing.T) {
	addr, stop := fakeRedis(t)
	p, err := Start(context.Background(), Spec{Name: "r", Kind: Redis, Target: addr, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	stop()
	time.Sleep(100 * time.Millisecond)
	s := p.Stop()
	if s.Failed == 0 || s.MaxGap < 100*time.Millisecond {
		t.Fatalf("outage not seen: failed=%d maxgap=%v", s.Failed, s.MaxGap)
	}
}

// TestStopCountsTheAttemptInFlight: a server that accepts and never
// answers, and a stop while the attempt waits: the attempt ends at its
// timeout and counts as failed, not dropped.
func TestStopCountsTheAttemptInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	p, err := Start(context.Background(), Spec{Name: "r", Kind: Redis, Target: ln.Addr().String(), Interval: 5 * time.Millisecond, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	s := p.Stop()
	if s.Sent != 1 || s.Failed != 1 {
		t.Fatalf("sent %d, failed %d; want the hung attempt counted as 1 failed", s.Sent, s.Failed)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		spec Spec
		ok   bool
	}{
		{Spec{Kind: HTTP, Target: "http://127.0.0.1:80/"}, true},
		{Spec{Kind: HTTP, Target: "127.0.0.1:80"}, false},
		{Spec{Kind: Redis, Target: "127.0.0.1:6379"}, true},
		{Spec{Kind: Redis, Target: "127.0.0.1"}, false},
		{Spec{Kind: TCP, Target: "[::1]:22"}, true},
		{Spec{Kind: "udp", Target: "127.0.0.1:53"}, false},
	}
	for _, tt := range tests {
		if err := tt.spec.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: err=%v, want ok=%v", tt.spec, err, tt.ok)
		}
	}
}

func TestRedisInfo(t *testing.T) {
	addr, stop := fakeRedis(t)
	defer stop()
	info, err := RedisInfo(context.Background(), addr, "server")
	if err != nil {
		t.Fatal(err)
	}
	if info["run_id"] != "abc123" || info["process_id"] != "42" {
		t.Fatalf("info = %v", info)
	}
}

func TestParseKeyspace(t *testing.T) {
	tests := []struct {
		info          map[string]string
		keys, expires int64
	}{
		{map[string]string{}, 0, 0},
		{map[string]string{"db0": "keys=100,expires=3,avg_ttl=0"}, 100, 3},
		{map[string]string{"db0": "keys=1,expires=0,avg_ttl=0", "db3": "keys=2,expires=2,avg_ttl=10"}, 3, 2},
	}
	for _, tt := range tests {
		if k, e := ParseKeyspace(tt.info); k != tt.keys || e != tt.expires {
			t.Errorf("ParseKeyspace(%v) = %d, %d; want %d, %d", tt.info, k, e, tt.keys, tt.expires)
		}
	}
}
