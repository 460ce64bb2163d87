package upgrade

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/plan"
)

// snapEngine lists one running container; nothing else of it is used.
type snapEngine struct{ engine.Engine }

func (snapEngine) Status(context.Context) (engine.Status, error) {
	return engine.Status{Version: "1.0.0"}, nil
}
func (snapEngine) Address() string { return "unix:///x.sock" }
func (snapEngine) Running(context.Context) ([]container.Summary, error) {
	return []container.Summary{{ID: "c1"}}, nil
}
func (snapEngine) Inspect(_ context.Context, id string) (container.InspectResponse, error) {
	return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, Name: "/cache",
		State: &container.State{Running: true, Pid: 42, StartedAt: "t0"}}, Config: &container.Config{}}, nil
}

// fakeRedis answers INFO server and INFO keyspace as redis does (RESP bulk
// strings), once per connection.
func fakeRedis(t *testing.T, runID string, keys int) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				var words []string
				for line, err := r.ReadString('\n'); err == nil; line, err = r.ReadString('\n') {
					if l := strings.TrimSpace(line); l != "" && l[0] != '*' && l[0] != '$' {
						words = append(words, l)
					}
					if len(words) == 2 {
						break
					}
				}
				body := "# Server\r\nrun_id:" + runID + "\r\n"
				if len(words) == 2 && strings.EqualFold(words[1], "keyspace") {
					body = fmt.Sprintf("# Keyspace\r\ndb0:keys=%d,expires=0,avg_ttl=0\r\n", keys)
				}
				fmt.Fprintf(c, "$%d\r\n%s\r\n", len(body), body)
			}(c)
		}
	}()
	return l.Addr().String()
}

// TestSnapshotRecordsRedis: the snapshot records a redis workload's run_id
// and key count, which Compare's run_id and data rules then read.
func TestSnapshotRecordsRedis(t *testing.T) {
	addr := fakeRedis(t, "abc123", 7)
	s, err := TakeSnapshot(context.Background(), snapEngine{}, []plan.Workload{{Container: "cache", Probe: probe.Redis, Address: addr}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Containers) != 1 {
		t.Fatalf("containers %+v", s.Containers)
	}
	c := s.Containers[0]
	if c.Identity["redis_run_id"] != "abc123" || c.Data == nil || c.Data.RedisKeys != 7 {
		t.Fatalf("recorded identity %v data %+v, want run_id abc123 and 7 keys", c.Identity, c.Data)
	}
}
