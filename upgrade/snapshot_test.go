package upgrade

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
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

// TestReadSnapshotRefuses: a file that is not a snapshot is an error naming
// the file and what to run, never an empty snapshot that every comparison
// would pass.
func TestReadSnapshotRefuses(t *testing.T) {
	good := `{"taken": "2026-01-02T03:04:05Z", "endpoint": "unix:///x.sock", "daemon_version": "1.0.0",
 "containers": [{"id": "c1", "name": "cache", "pid": 42, "started_at": "t0"}]}`
	tests := []struct {
		name, content, want string
	}{
		{"a snapshot", good, ""},
		{"no containers running", `{"taken": "2026-01-02T03:04:05Z", "containers": null}`, ""},
		{"null", "null\n", "null"},
		{"empty", "", "empty"},
		{"blank", " \n\t", "empty"},
		{"garbage", "\x00\x01garbage", "invalid character"},
		{"array", `[{"id": "c1"}]`, "cannot unmarshal array"},
		{"empty object", `{}`, `no "taken" field`},
		{"another document", `{"taken": "2026-01-02T03:04:05Z", "items": []}`, `no "containers" field`},
		{"zero time", `{"taken": "0001-01-01T00:00:00Z", "containers": []}`, `"taken" time is zero`},
		{"container without pid", `{"taken": "2026-01-02T03:04:05Z", "containers": [{"id": "c1"}]}`, "containers[0] has no id or pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/before.json"
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := ReadSnapshot(path)
			if tt.want == "" {
				if err != nil || s == nil {
					t.Fatalf("refused a snapshot: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %+v, want an error naming %q", s, tt.want)
			}
			for _, w := range []string{path, tt.want, "liveswap snapshot -o"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
