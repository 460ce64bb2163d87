package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/upgrade"
)

// ScalePoint is snapshot and verify time with Containers running.
type ScalePoint struct {
	Containers int       `json:"containers"`
	Reps       int       `json:"reps"`
	SnapshotMS []float64 `json:"snapshot_ms"` // TakeSnapshot: /info, list, one inspect per container, redis INFO
	VerifyMS   []float64 `json:"verify_ms"`   // the verify phase's work: TakeSnapshot again + Compare
	CompareMS  []float64 `json:"compare_ms"`  // Compare alone
	Snapshot   Stat      `json:"snapshot"`
	Verify     Stat      `json:"verify"`
	Total      Stat      `json:"snapshot_plus_verify"`
}

// scalePoint times reps snapshots and verifies against the running daemon
// and checks that every container was seen and none was interrupted.
func (b *bed) scalePoint(ctx context.Context, reps int, profile string) (ScalePoint, error) {
	p := ScalePoint{Containers: b.running(), Reps: reps}
	if profile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s.%d", profile, b.label, p.Containers))
		if err != nil {
			return p, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return p, err
		}
		defer pprof.StopCPUProfile()
	}
	var totals []float64
	for i := 0; i < reps; i++ {
		t0 := time.Now()
		before, err := upgrade.TakeSnapshot(ctx, b.eng, b.plan.Workloads)
		if err != nil {
			return p, err
		}
		snap := msSince(t0)
		t1 := time.Now()
		after, err := upgrade.TakeSnapshot(ctx, b.eng, b.plan.Workloads)
		if err != nil {
			return p, err
		}
		t2 := time.Now()
		changes := upgrade.Compare(before, after)
		cmp := msSince(t2)
		verify := msSince(t1)
		if len(before.Containers) != p.Containers || len(changes) != p.Containers {
			return p, fmt.Errorf("snapshot saw %d containers, %d running", len(before.Containers), p.Containers)
		}
		for _, c := range changes {
			if c.Interrupted {
				return p, fmt.Errorf("container %s interrupted between two snapshots: %s", c.Name, c.Reason)
			}
		}
		p.SnapshotMS = append(p.SnapshotMS, snap)
		p.VerifyMS = append(p.VerifyMS, verify)
		p.CompareMS = append(p.CompareMS, cmp)
		totals = append(totals, snap+verify)
	}
	p.Snapshot, p.Verify, p.Total = stat(p.SnapshotMS), stat(p.VerifyMS), stat(totals)
	return p, nil
}

// pidsLimit reads the nearest pids limit above this process's cgroup (v1
// pids controller, else v2) and the tasks in use; ok is false without a
// limit. Use counts every thread on the host (/proc/loadavg): the units of
// a private systemd manager sit in cgroups beside ours, not below it.
func pidsLimit() (limit, current int, ok bool) {
	limit, current, ok = cgroupPids()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 4 {
			if _, total, found := strings.Cut(f[3], "/"); found {
				if n, err := strconv.Atoi(total); err == nil {
					current = max(current, n)
				}
			}
		}
	}
	return limit, current, ok
}

func cgroupPids() (limit, current int, ok bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, 0, false
	}
	var v1, v2 string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			v2 = "/sys/fs/cgroup" + f[2]
		case strings.Contains(","+f[1]+",", ",pids,"):
			v1 = "/sys/fs/cgroup/pids" + f[2]
		}
	}
	for _, dir := range []string{v1, v2} {
		if dir == "" {
			continue
		}
		root := "/sys/fs/cgroup/pids"
		if dir == v2 {
			root = "/sys/fs/cgroup"
		}
		for d := filepath.Clean(dir); strings.HasPrefix(d, root); d = filepath.Dir(d) {
			m, err1 := os.ReadFile(d + "/pids.max")
			c, err2 := os.ReadFile(d + "/pids.current")
			if err1 == nil && err2 == nil {
				if l, err := strconv.Atoi(strings.TrimSpace(string(m))); err == nil {
					cur, _ := strconv.Atoi(strings.TrimSpace(string(c)))
					return l, cur, true
				}
			}
			if d == root {
				break
			}
		}
	}
	return 0, 0, false
}

// fits caps want to what the pids limit allows with headroom tasks left
// free, at perContainer tasks each, given have running; the reason is
// empty when nothing was capped.
func fits(want, have int, perContainer float64, headroom int) (int, string) {
	limit, cur, ok := pidsLimit()
	if !ok || want <= have {
		return want, ""
	}
	free := limit - cur - headroom
	more := int(float64(free) / perContainer)
	if have+more >= want {
		return want, ""
	}
	capped := max(have, (have+more)/50*50)
	return capped, fmt.Sprintf("capped at %d of %d: pids limit %d, %d tasks in use, %.1f per container, %d kept free", capped, want, limit, cur, perContainer, headroom)
}
