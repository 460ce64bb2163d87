package plan

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimal = `apiVersion: liveswap/v1
kind: UpgradePlan
target:
  kind: liveswapd
binaries:
  - path: /usr/local/bin/liveswapd
    newFile: /srv/liveswapd-1.2.4
    sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
workloads:
  - container: web
    probe: http
    address: http://127.0.0.1:8080/
`

func TestParseDefaults(t *testing.T) {
	p, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.Unit != "liveswapd.service" || p.Target.Systemd != "system" || p.Target.DaemonConfig != "/etc/liveswap/daemon.json" {
		t.Errorf("target defaults: %+v", p.Target)
	}
	if p.Policy.Rollback != "auto" || p.Policy.ReadyTimeout.D() != time.Minute || p.Policy.KeepBackups != 2 || p.Policy.MaxProbeFailures != 0 {
		t.Errorf("policy defaults: %+v", p.Policy)
	}
	if p.Canary.Image != "" || len(p.Canary.Command) != 0 {
		t.Errorf("canary defaults: %+v, want none (image host needs liveswapd's opt-in)", p.Canary)
	}
	if p.Workloads[0].Interval.D() != 20*time.Millisecond {
		t.Errorf("interval default: %v", p.Workloads[0].Interval)
	}
	// A marshalled plan parses back to the same plan.
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatalf("round trip: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip changed the plan:\n%s", b)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown field names its line", func(s string) string {
			return strings.Replace(s, "  kind: liveswapd\n", "  kind: liveswapd\n  unti: x.service\n", 1)
		}, []string{"line 5", "unti"}},
		{"bad duration", func(s string) string { return s + "policy:\n  readyTimeout: soon\n" }, []string{"line 14", "not a duration"}},
		{"bad kind", func(s string) string { return strings.Replace(s, "kind: liveswapd", "kind: podman", 1) }, []string{"target.kind", "docker or liveswapd"}},
		{"wrong apiVersion", func(s string) string { return strings.Replace(s, "liveswap/v1", "liveswap/v9", 1) }, []string{"apiVersion"}},
		{"missing sha", func(s string) string {
			return strings.Replace(s, "    sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", "", 1)
		}, []string{"binaries[0].sha256", "sha256sum"}},
		{"relative path", func(s string) string {
			return strings.Replace(s, "path: /usr/local/bin/liveswapd", "path: liveswapd", 1)
		}, []string{"binaries[0].path", "absolute"}},
		{"bad probe", func(s string) string { return strings.Replace(s, "probe: http", "probe: icmp", 1) }, []string{"workloads[0]", "unknown kind"}},
		{"bad probe address", func(s string) string {
			return strings.Replace(s, "http://127.0.0.1:8080/", "127.0.0.1:8080", 1)
		}, []string{"workloads[0]", "not an http(s) URL"}},
		{"tcp endpoint", func(s string) string {
			return strings.Replace(s, "  kind: liveswapd\n", "  kind: liveswapd\n  endpoint: tcp://127.0.0.1:2375\n", 1)
		}, []string{"target.endpoint", `"tcp://127.0.0.1:2375": use unix:///path/to/socket`}},
		{"relative socket", func(s string) string {
			return strings.Replace(s, "  kind: liveswapd\n", "  kind: liveswapd\n  endpoint: unix://run/x.sock\n", 1)
		}, []string{"target.endpoint", "unix:///path/to/socket"}},
		{"rollback value", func(s string) string { return s + "policy:\n  rollback: maybe\n" }, []string{"policy.rollback"}},
		{"empty", func(string) string { return "" }, []string{"empty"}},
		{"two documents", func(s string) string { return s + "---\n" + s }, []string{"one UpgradePlan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.edit(minimal)))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
