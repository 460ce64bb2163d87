package discover

import (
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/probe"
)

func TestParseListening(t *testing.T) {
	const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
`
	const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
`
	got := append(parseListening(strings.NewReader(tcp)), parseListening(strings.NewReader(tcp6))...)
	want := []struct {
		ip    string
		port  int
		inode string
	}{
		{"127.0.0.1", 8080, "1111"},
		{"0.0.0.0", 6379, "2222"},
		{"::1", 80, "4444"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d listeners, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].ip.String() != w.ip || got[i].port != w.port || got[i].inode != w.inode {
			t.Errorf("listener %d = %v:%d inode %s, want %s:%d inode %s", i, got[i].ip, got[i].port, got[i].inode, w.ip, w.port, w.inode)
		}
	}
}

func TestProposeProbe(t *testing.T) {
	tests := []struct {
		l       listener
		kind    probe.Kind
		address string
	}{
		{listener{ip: []byte{127, 0, 0, 1}, port: 8080, comm: "nginx"}, probe.HTTP, "http://127.0.0.1:8080/"},
		{listener{ip: []byte{0, 0, 0, 0}, port: 6379, comm: "redis-server"}, probe.Redis, "127.0.0.1:6379"},
		{listener{ip: []byte{10, 0, 0, 5}, port: 5432, comm: "postgres"}, probe.TCP, "10.0.0.5:5432"},
	}
	for _, tt := range tests {
		w := proposeProbe("c", tt.l)
		if w.Probe != tt.kind || w.Address != tt.address {
			t.Errorf("%+v -> %s %s, want %s %s", tt.l, w.Probe, w.Address, tt.kind, tt.address)
		}
		if err := w.Spec().Validate(); err != nil {
			t.Errorf("proposed probe does not validate: %v", err)
		}
	}
}
