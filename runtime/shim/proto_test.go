package shim

import (
	"testing"

	"github.com/liveswap/liveswap/internal/host/procfs"
)

func TestDecide(t *testing.T) {
	rec := &Record{ShimPid: 100, ShimStart: 5000, Pid: 101, PidStart: 5001}
	ex := &Exit{ExitCode: 3}
	spawn := &Spawn{ShimPid: 100, ShimStart: 5000}
	live := procfs.Proc{Exists: true, Start: 5000, State: 'S'}
	tests := []struct {
		name string
		obs  Observation
		want Verdict
	}{
		{"running shim", Observation{Record: rec, Proc: procfs.Proc{Exists: true, Start: 5000, State: 'S'}}, Alive},
		{"no files", Observation{}, None},
		{"exit recorded, shim gone", Observation{Record: rec, Exit: ex}, Exited},
		{"exit recorded, shim still exiting", Observation{Record: rec, Exit: ex, Proc: procfs.Proc{Exists: true, Start: 5000, State: 'S'}}, Exited},
		{"start failed before json", Observation{Exit: ex}, Exited},
		{"shim gone without exit", Observation{Record: rec}, Lost},
		{"pid reused", Observation{Record: rec, Proc: procfs.Proc{Exists: true, Start: 9999, State: 'S'}}, Lost},
		{"zombie shim", Observation{Record: rec, Proc: procfs.Proc{Exists: true, Start: 5000, State: 'Z'}}, Lost},
		{"dead shim", Observation{Record: rec, Proc: procfs.Proc{Exists: true, Start: 5000, State: 'X'}}, Lost},
		{"forked, waiting for the go-ahead", Observation{Spawn: spawn, Proc: live}, Starting},
		{"forked and stopped", Observation{Spawn: spawn, Proc: procfs.Proc{Exists: true, Start: 5000, State: 'T'}}, Starting},
		{"forked, then started the container", Observation{Spawn: spawn, Record: rec, Proc: live}, Alive},
		{"forked, gave up", Observation{Spawn: spawn, Exit: ex}, Exited},
		{"forked, died before recording", Observation{Spawn: spawn}, Lost},
		{"forked, pid reused", Observation{Spawn: spawn, Proc: procfs.Proc{Exists: true, Start: 7, State: 'S'}}, Lost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.obs); got != tt.want {
				t.Errorf("Decide = %v, want %v", got, tt.want)
			}
		})
	}
}
