package main

import (
	"strings"
	"testing"
)

func TestStat(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want Stat
	}{
		{nil, Stat{}},
		{[]float64{3}, Stat{Median: 3, Min: 3, Max: 3, N: 1}},
		{[]float64{5, 1, 3}, Stat{Median: 3, Min: 1, Max: 5, N: 3}},
		{[]float64{4, 1, 2, 3}, Stat{Median: 2.5, Min: 1, Max: 4, N: 4}},
	} {
		if got := stat(tt.in); got != tt.want {
			t.Errorf("stat(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// The checks that make the benchmark exit 1: failed probes, a bare restart
// that failed or did not restart the daemon, a failed apply.
func TestSanity(t *testing.T) {
	good := Arm{Kind: "bare", Round: 1, APIDownMS: 50, NginxSent: 10, RedisSent: 10, PIDBefore: 1, PIDAfter: 2}
	for _, tt := range []struct {
		name string
		arm  func(a *Arm)
		want string // substring of the one failure; empty: none
	}{
		{"restarted, nothing failed", func(*Arm) {}, ""},
		{"idle, no restart", func(a *Arm) { a.Kind, a.PIDAfter, a.APIDownMS = "idle", 1, 0 }, ""},
		{"a failed probe", func(a *Arm) { a.RedisFailed = 1 }, "1 failed probes"},
		{"a failed probe while idle", func(a *Arm) { a.Kind, a.PIDAfter, a.NginxFailed = "idle", 1, 2 }, "2 failed probes"},
		{"bare restart failed", func(a *Arm) { a.Error = "RestartUnit: job failed" }, "bare-restart baseline could not be measured"},
		{"bare did not restart", func(a *Arm) { a.PIDAfter = 1 }, "did not restart"},
		{"API never down", func(a *Arm) { a.APIDownMS = 0 }, "did not restart"},
		{"apply rolled back", func(a *Arm) { a.Kind, a.Error = "apply", "liveswap apply exit 3, result rolled-back" }, "rolled-back"},
		{"daemon restarted while idle", func(a *Arm) { a.Kind = "idle" }, "restarted by itself"},
		{"probes sent nothing", func(a *Arm) { a.NginxSent = 0 }, "sent nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := good
			tt.arm(&a)
			got := sanity(a)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("sanity = %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("sanity = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

// A failed arm stays out of the figures but not out of the failed-probe
// count, and no bare restart at all is a sanity failure.
func TestFinish(t *testing.T) {
	r := &TargetResult{Arms: []Arm{
		{Kind: "bare", APIDownMS: 50, WallMS: 60},
		{Kind: "apply", APIDownMS: 55, WallMS: 900, Apply: &Apply{Phases: map[string]float64{"verify": 540}, OwnHWMKiB: 20 << 10}},
		{Kind: "apply", APIDownMS: 999, WallMS: 400, RedisFailed: 1, Error: "rolled back", Apply: &Apply{Phases: map[string]float64{"rollback": 100}}},
		{Kind: "idle", NginxGapMS: 12, RedisGapMS: 14, WallMS: 900},
	}}
	finish(r, "liveswapd")
	if r.Apply.APIDownMS.N != 1 || r.Apply.APIDownMS.Median != 55 {
		t.Errorf("apply API window %+v: the failed apply must be left out", r.Apply.APIDownMS)
	}
	if _, ok := r.Phases["rollback"]; ok {
		t.Error("the failed apply's phases are in the figures")
	}
	if g := r.Goals[0]; g.Pass || g.Value != 1 {
		t.Errorf("failed-probe target %+v: the failed apply's probe must count", g)
	}
	none := &TargetResult{}
	finish(none, "dockerd")
	if len(none.Sanity) != 1 || !strings.Contains(none.Sanity[0], "no bare restart") {
		t.Errorf("sanity without a bare restart: %q", none.Sanity)
	}
}

func TestExtrapolate(t *testing.T) {
	r := &TargetResult{Scale: []ScalePoint{
		{Containers: 100, Total: Stat{Median: 50, N: 1}},
		{Containers: 500, Total: Stat{Median: 250, N: 1}},
	}}
	extrapolate(r)
	if r.Extrapolated1000MS != 500 || r.GrowthExponent < 0.999 || r.GrowthExponent > 1.001 {
		t.Errorf("extrapolated %v ms, exponent %v; want 500 ms and 1", r.Extrapolated1000MS, r.GrowthExponent)
	}
}
