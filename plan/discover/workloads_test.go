package discover

import (
	"net/netip"
	"testing"

	"github.com/liveswap/liveswap/internal/host/probe"
)

func TestProposeProbe(t *testing.T) {
	tests := []struct {
		l       listener
		kind    probe.Kind
		address string
	}{
		{listener{ip: netip.AddrFrom4([4]byte{127, 0, 0, 1}), port: 8080, comm: "nginx"}, probe.HTTP, "http://127.0.0.1:8080/"},
		{listener{ip: netip.AddrFrom4([4]byte{0, 0, 0, 0}), port: 6379, comm: "redis-server"}, probe.Redis, "127.0.0.1:6379"},
		{listener{ip: netip.AddrFrom4([4]byte{10, 0, 0, 5}), port: 5432, comm: "postgres"}, probe.TCP, "10.0.0.5:5432"},
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
