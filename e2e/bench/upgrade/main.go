// Command upgrade is a benchmark, not a test: it measures what a verified
// upgrade costs beside a bare restart of the same unit, on the testbed (a
// private systemd user manager, a real dockerd and liveswapd, nginx and
// redis containers), and prints one table per target.
//
//	sudo go run ./e2e/bench/upgrade                      # what `make bench` runs
//	sudo go run ./e2e/bench/upgrade -targets liveswapd -rounds 7 -scale 10,100,300
//
// Per target, in one run:
//   - rounds of bare restart (RestartUnit over D-Bus, then wait for the
//     API), `liveswap apply` of a same-version swap (the built CLI as a
//     child, real preflight) and no restart at all, interleaved, with 100
//     containers running: API-unreachable window, longest gap between
//     successful nginx and redis probes (every 10 ms), failed probes, wall
//     time, apply's phases, peak RSS and CPU time of the liveswap process;
//   - snapshot and verify time (upgrade.TakeSnapshot, Compare) with 10, 100
//     and 500 running containers (liveswapd; dockerd 10 and 100).
//
// A liveswapd container costs about 5 tasks (shim threads and the process):
// under a pids limit the largest count is capped, leaving -headroom tasks
// free, and the cap is printed; 1000 is then extrapolated, labelled so.
//
// Exit status: 0 when every sanity check held (misses of targets are
// reported, and fail the run only with -strict); 1 when a run had failed
// probes, an apply did not upgrade, a container was interrupted, the bare
// restart could not be measured or the testbed failed; 2 for usage errors.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// TargetResult is everything measured on one target; the JSON output is a
// list of them.
type TargetResult struct {
	Target             string          `json:"target"`
	Version            string          `json:"version"`
	Containers         int             `json:"containers"`
	Rounds             int             `json:"rounds"`
	IntervalMS         float64         `json:"probe_interval_ms"`
	Arms               []Arm           `json:"arms"`
	Bare               Summary         `json:"bare"`
	Apply              Summary         `json:"apply"`
	Idle               Summary         `json:"no_restart"`
	PhaseOrder         []string        `json:"-"`
	Phases             map[string]Stat `json:"apply_phases_ms"`
	ReportedDowntime   Stat            `json:"apply_reported_downtime_ms"`
	PeakRSSMiB         Stat            `json:"apply_peak_rss_mib"`
	OwnHWMMiB          Stat            `json:"apply_own_vmhwm_mib"`
	CPUMS              Stat            `json:"apply_cpu_ms"`
	Scale              []ScalePoint    `json:"scale"`
	ScaleNote          string          `json:"scale_note,omitempty"`
	PidsNote           string          `json:"pids_note,omitempty"`
	Extrapolated1000MS float64         `json:"extrapolated_1000_ms,omitempty"`
	GrowthExponent     float64         `json:"growth_exponent,omitempty"`
	PreflightMS        float64         `json:"warmup_preflight_ms"`
	SlowChecks         []string        `json:"warmup_slowest_checks"`
	Goals              []Goal          `json:"targets"`
	Sanity             []string        `json:"sanity_failures,omitempty"`
	Error              string          `json:"error,omitempty"`
}

type options struct {
	targets      []string
	rounds       int
	containers   int
	scale        map[string][]int
	reps         int
	interval     time.Duration
	headroom     int
	jsonPath     string
	strict       bool
	verbose      bool
	liveswapBin  string
	profile      string
	keepLogs     string
	applyProfile string
	perContainer map[string]float64
}

func main() { os.Exit(run()) }

// run is main without os.Exit, so deferred cleanups always run.
func run() int {
	var o options
	targets := flag.String("targets", "liveswapd,dockerd", "targets, in order: liveswapd, dockerd")
	flag.IntVar(&o.rounds, "rounds", 0, "rounds of bare restart / apply / no restart (default: 15 on liveswapd, whose ~60 ms windows are noisy, 7 on dockerd)")
	flag.IntVar(&o.containers, "containers", 100, "running containers during the rounds (nginx and redis included)")
	lsdScale := flag.String("scale", "10,100,500", "liveswapd: running-container counts of the scale runs")
	dockerdScale := flag.String("dockerd-scale", "10,100", "dockerd: running-container counts of the scale runs")
	flag.IntVar(&o.reps, "reps", 5, "snapshot+verify repetitions per count")
	flag.DurationVar(&o.interval, "interval", 10*time.Millisecond, "probe interval (nginx, redis)")
	flag.IntVar(&o.headroom, "headroom", 1500, "tasks to leave free under the pids limit when growing the scale runs")
	flag.StringVar(&o.jsonPath, "json", "bin/bench-upgrade.json", "write the results as JSON here (empty: do not)")
	flag.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed, too")
	flag.BoolVar(&o.verbose, "v", false, "log the testbed's steps")
	flag.StringVar(&o.keepLogs, "keep-logs", "", "copy each daemon's log into this folder before it is removed")
	flag.StringVar(&o.applyProfile, "apply-cpuprofile", "", "after the rounds, run one more apply in-process under the CPU profiler and write the profile to this file, suffixed with the target")
	flag.StringVar(&o.profile, "scale-cpuprofile", "", "write a CPU profile (pprof) of the snapshot+verify runs to this file, suffixed with the target")
	flag.Parse()
	o.targets = strings.Split(*targets, ",")
	var err error
	o.scale = map[string][]int{}
	if o.scale[plan.Liveswapd], err = counts(*lsdScale); err == nil {
		o.scale[plan.Docker], err = counts(*dockerdScale)
	}
	if err != nil || o.rounds < 0 || o.containers < 2 || o.reps < 1 {
		fmt.Fprintf(os.Stderr, "bench: bad flags (%v): counts are comma-separated numbers >= 2, -rounds >= 0, -reps >= 1\n", err)
		return 2
	}
	o.perContainer = map[string]float64{plan.Liveswapd: 5, plan.Docker: 12}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (systemd manager, dockerd, container processes); run with sudo")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	defer testbed.CleanupBuilds()
	global, err := newBenchTB(o.verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer global.Close()
	if err := global.Run(func() { o.liveswapBin = testbed.Build(global, "liveswap", "bench") }); err != nil {
		fmt.Fprintln(os.Stderr, "bench: building liveswap:", err)
		return 1
	}

	started := time.Now()
	load0 := loadavg()
	var results []*TargetResult
	for _, kind := range o.targets {
		kind = strings.TrimSpace(kind)
		if kind == "dockerd" {
			kind = plan.Docker
		}
		if kind != plan.Docker && kind != plan.Liveswapd {
			fmt.Fprintf(os.Stderr, "bench: unknown target %q (liveswapd, dockerd)\n", kind)
			return 2
		}
		results = append(results, runTarget(ctx, kind, o))
		if ctx.Err() != nil {
			break
		}
	}

	limit, _, hasLimit := pidsLimit()
	fmt.Printf("\n## liveswap upgrade benchmark\n\n%s, %d CPUs, load average %s at start and %s at end, pids limit %s; %s; took %s\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), load0, loadavg(), pidsText(limit, hasLimit), runtime.Version(), time.Since(started).Round(time.Second))
	sane, met := true, true
	for _, r := range results {
		printTarget(os.Stdout, r)
		if r.Error != "" || len(r.Sanity) > 0 {
			sane = false
		}
		for _, g := range r.Goals {
			met = met && g.Pass
		}
	}
	code := 0
	if !sane || (o.strict && !met) {
		code = 1
	}
	if o.jsonPath != "" {
		out := map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "cpus": runtime.NumCPU(), "load_start": load0, "load_end": loadavg(),
			"pids_limit": limit, "go": runtime.Version(), "targets": results, "sanity_ok": sane, "targets_met": met}
		b, _ := json.MarshalIndent(out, "", "  ")
		os.MkdirAll(filepath.Dir(o.jsonPath), 0o755)
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			code = 1
		} else {
			fmt.Printf("\nJSON: %s\n", o.jsonPath)
		}
	}
	switch {
	case !sane:
		fmt.Fprintln(os.Stderr, "\nbench: FAILED (see SANITY CHECKS FAILED / FAILED above)")
	case code != 0:
		fmt.Fprintln(os.Stderr, "\nbench: targets missed (-strict)")
	}
	return code
}

func runTarget(ctx context.Context, kind string, o options) *TargetResult {
	if o.rounds == 0 {
		o.rounds = map[string]int{plan.Liveswapd: 15, plan.Docker: 7}[kind]
	}
	r := &TargetResult{Target: kind, Rounds: o.rounds, IntervalMS: float64(o.interval.Microseconds()) / 1000}
	if kind == plan.Docker {
		r.Target = "dockerd"
	}
	t, err := newBenchTB(o.verbose)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer func() {
		t.progress("%s: stopping everything", r.Target)
		t.Close()
	}()
	err = t.Run(func() {
		t.progress("%s: starting systemd, the daemon, nginx and redis", r.Target)
		b := setup(t, kind, o.liveswapBin, o.interval)
		if o.keepLogs != "" {
			t.Cleanup(func() {
				keepLog(b.logPath, filepath.Join(o.keepLogs, r.Target+".log"))
				os.WriteFile(filepath.Join(o.keepLogs, r.Target+"-systemd.log"), []byte(b.sd.Log()), 0o644)
			})
		}
		r.Version = b.version
		if b.preflight != nil {
			r.PreflightMS = b.preflight.DurationMS
			cs := b.preflight.Checks
			sort.Slice(cs, func(i, j int) bool { return cs[i].DurationMS > cs[j].DurationMS })
			for _, c := range cs[:min(4, len(cs))] {
				r.SlowChecks = append(r.SlowChecks, fmt.Sprintf("%s %s ms", c.ID, num(c.DurationMS)))
			}
		}
		steps := append([]int(nil), o.scale[kind]...)
		if !contains(steps, o.containers) {
			steps = append(steps, o.containers)
		}
		sort.Ints(steps)
		per := o.perContainer[kind]
		for _, n := range steps {
			if ctx.Err() != nil {
				t.Fatalf("interrupted")
			}
			have := b.running()
			capped, note := fits(n, have, per, o.headroom)
			if note != "" {
				r.ScaleNote = strings.TrimSpace(r.ScaleNote + " " + note + ".")
				t.progress("%s: %s", r.Target, note)
			}
			if capped <= have && n > have {
				continue
			}
			_, cur0, _ := pidsLimit()
			t0 := time.Now()
			slowest, err := b.grow(ctx, capped)
			if err != nil {
				t.Fatalf("starting containers: %v", err)
			}
			if _, cur1, ok := pidsLimit(); ok && capped-have >= 10 {
				if m := float64(cur1-cur0) / float64(capped-have); m >= 2 && m <= 30 {
					per = m
				}
			}
			t.progress("%s: %d containers running (%d started in %v, slowest create+start %v)", r.Target, b.running(), capped-have,
				time.Since(t0).Round(time.Millisecond), slowest.Round(time.Millisecond))
			p, err := b.scalePoint(ctx, o.reps, o.profile)
			if err != nil {
				t.Fatalf("scale at %d containers: %v", b.running(), err)
			}
			r.Scale = append(r.Scale, p)
			if limit, cur, ok := pidsLimit(); ok && p.Containers < 1000 {
				r.PidsNote = fmt.Sprintf("pids limit %d tasks, %d in use with %d containers (%.1f tasks each for the last ones): 1000 containers would need about %.0f more tasks",
					limit, cur, p.Containers, per, float64(1000-p.Containers)*per)
			}
			t.progress("%s: %d containers: snapshot %s ms, verify %s ms", r.Target, p.Containers, num(p.Snapshot.Median), num(p.Verify.Median))
			if n == o.containers {
				rounds(ctx, b, r, o.rounds)
				if o.applyProfile != "" {
					path := o.applyProfile + "." + r.Target
					rep, err := b.profileApply(path)
					if err != nil {
						t.Fatalf("%v", err)
					}
					t.progress("%s: CPU profile of an in-process apply (%s) in %s", r.Target, rep.Result, path)
				}
			}
		}
	})
	if err != nil {
		r.Error = err.Error()
	}
	finish(r, kind)
	return r
}

// rounds runs bare, apply and idle windows in turn, rounds times.
func rounds(ctx context.Context, b *bed, r *TargetResult, n int) {
	r.Containers = b.running()
	before, err := upgrade.TakeSnapshot(ctx, b.eng, b.plan.Workloads)
	if err != nil {
		b.t.Fatalf("snapshot before the rounds: %v", err)
	}
	for i := 1; i <= n; i++ {
		if ctx.Err() != nil {
			b.t.Fatalf("interrupted")
		}
		bare := b.window("bare", i, b.bare)
		var a Apply
		ap := b.window("apply", i, func() error { return b.apply(&a) })
		ap.Apply = &a
		idle := b.window("idle", i, sleepFor(ap.WallMS))
		r.Arms = append(r.Arms, bare, ap, idle)
		b.t.progress("%s: round %d/%d: API down bare %s / apply %s ms; wall bare %s / apply %s ms; longest gap bare %s / apply %s / idle %s ms; failed %d/%d/%d",
			r.Target, i, n, num(bare.APIDownMS), num(ap.APIDownMS), num(bare.WallMS), num(ap.WallMS),
			num(bare.MaxGapMS()), num(ap.MaxGapMS()), num(idle.MaxGapMS()), bare.Failed(), ap.Failed(), idle.Failed())
		for _, arm := range []Arm{bare, ap, idle} {
			r.Sanity = append(r.Sanity, sanity(arm)...)
		}
	}
	after, err := upgrade.TakeSnapshot(ctx, b.eng, b.plan.Workloads)
	if err != nil {
		b.t.Fatalf("snapshot after the rounds: %v", err)
	}
	for _, c := range upgrade.Compare(before, after) {
		if c.Interrupted {
			r.Sanity = append(r.Sanity, fmt.Sprintf("container %s was interrupted during the rounds: %s", c.Name, c.Reason))
		}
	}
}

// sanity lists what makes an arm unusable: failed probes, an error, a
// restart that did not restart.
func sanity(a Arm) []string {
	var out []string
	where := fmt.Sprintf("round %d %s", a.Round, a.Kind)
	if a.Failed() > 0 {
		out = append(out, fmt.Sprintf("%s: %d failed probes (nginx %d of %d, redis %d of %d)", where, a.Failed(), a.NginxFailed, a.NginxSent, a.RedisFailed, a.RedisSent))
	}
	if a.NginxSent == 0 || a.RedisSent == 0 {
		out = append(out, where+": a probe sent nothing")
	}
	if a.Error != "" {
		msg := where + ": " + a.Error
		if a.UnitState != "" {
			msg += " [unit: " + a.UnitState + "]"
		}
		if a.Kind == "bare" {
			msg += " (the bare-restart baseline could not be measured)"
		}
		out = append(out, msg)
	}
	if a.Kind != "idle" && a.Error == "" && (a.PIDAfter == a.PIDBefore || a.APIDownMS == 0) {
		out = append(out, fmt.Sprintf("%s: the daemon did not restart (MainPID %d -> %d, API unreachable %.1f ms): nothing was measured", where, a.PIDBefore, a.PIDAfter, a.APIDownMS))
	}
	if a.Kind == "idle" && a.PIDAfter != a.PIDBefore {
		out = append(out, fmt.Sprintf("%s: the daemon restarted by itself (MainPID %d -> %d)", where, a.PIDBefore, a.PIDAfter))
	}
	return out
}

// finish computes the summaries and judges the targets.
func finish(r *TargetResult, kind string) {
	r.Bare, r.Apply, r.Idle = summarize(r.Arms, "bare"), summarize(r.Arms, "apply"), summarize(r.Arms, "idle")
	phases := map[string][]float64{}
	var down, rss, hwm, cpu []float64
	for _, a := range r.Arms {
		if a.Apply == nil || a.Apply.Phases == nil || a.Error != "" {
			continue
		}
		for name, d := range a.Apply.Phases {
			if _, ok := phases[name]; !ok {
				r.PhaseOrder = append(r.PhaseOrder, name)
			}
			phases[name] = append(phases[name], d)
		}
		down = append(down, a.Apply.DaemonDowntimeMS)
		rss = append(rss, float64(a.Apply.PeakRSSKiB)/1024)
		hwm = append(hwm, float64(a.Apply.OwnHWMKiB)/1024)
		cpu = append(cpu, a.Apply.CPUMS)
	}
	order := []string{"preflight", "lock", "snapshot", "stage", "recheck", "swap", "restart", "ready", "canary", "verify", "commit", "rollback"}
	sort.SliceStable(r.PhaseOrder, func(i, j int) bool { return index(order, r.PhaseOrder[i]) < index(order, r.PhaseOrder[j]) })
	r.Phases = map[string]Stat{}
	for name, ds := range phases {
		r.Phases[name] = stat(ds)
	}
	r.ReportedDowntime, r.PeakRSSMiB, r.OwnHWMMiB, r.CPUMS = stat(down), stat(rss), stat(hwm), stat(cpu)
	if r.Bare.WallMS.N == 0 && r.Error == "" {
		r.Sanity = append(r.Sanity, "no bare restart was measured")
	}
	extrapolate(r)
	r.Goals = goals(r, kind)
}

// extrapolate fits the two largest scale points; when the largest is below
// 1000 containers it extends that line to 1000.
func extrapolate(r *TargetResult) {
	if len(r.Scale) < 2 {
		return
	}
	p1, p2 := r.Scale[len(r.Scale)-2], r.Scale[len(r.Scale)-1]
	n1, n2 := float64(p1.Containers), float64(p2.Containers)
	t1, t2 := p1.Total.Median, p2.Total.Median
	if n2 > n1 && t1 > 0 && t2 > 0 {
		r.GrowthExponent = math.Log(t2/t1) / math.Log(n2/n1)
		if p2.Containers < 1000 {
			r.Extrapolated1000MS = t2 + (1000-n2)*(t2-t1)/(n2-n1)
		}
	}
}

func goals(r *TargetResult, kind string) []Goal {
	var gs []Goal
	if r.Bare.WallMS.N > 0 && r.Apply.WallMS.N > 0 {
		// Every arm counts here, failed operations included.
		byKind, sent := map[string]int{}, 0
		for _, a := range r.Arms {
			byKind[a.Kind] += a.Failed()
			sent += a.NginxSent + a.RedisSent
		}
		failed := byKind["bare"] + byKind["apply"] + byKind["idle"]
		gs = append(gs, Goal{Name: "failed probes, every run", Limit: "0", Value: float64(failed), Pass: failed == 0,
			Measured: fmt.Sprintf("%d (bare %d, apply %d, no restart %d; %d sent)", failed, byKind["bare"], byKind["apply"], byKind["idle"], sent)})
		q := ratio(r.Apply.APIDownMS.Median, r.Bare.APIDownMS.Median)
		gs = append(gs, Goal{Name: "API unreachable, apply/bare (median)", Limit: "<= 1.05", Value: q, Pass: q <= 1.05,
			Measured: fmt.Sprintf("%.2f (%s / %s ms)", q, num(r.Apply.APIDownMS.Median), num(r.Bare.APIDownMS.Median))})
		g := ratio(r.Apply.MaxGapMS.Median, r.Idle.MaxGapMS.Median)
		gs = append(gs, Goal{Name: "longest probe gap during apply vs no restart (median)", Limit: "<= 2x", Value: g, Pass: g <= 2,
			Measured: fmt.Sprintf("%.2fx (%s / %s ms; worst %s / %s ms; bare restart %.2fx)", g, num(r.Apply.MaxGapMS.Median), num(r.Idle.MaxGapMS.Median),
				num(r.Apply.MaxGapMS.Max), num(r.Idle.MaxGapMS.Max), ratio(r.Bare.MaxGapMS.Median, r.Idle.MaxGapMS.Median))})
		d := r.Apply.WallMS.Median - r.Bare.WallMS.Median
		gs = append(gs, Goal{Name: fmt.Sprintf("apply wall - bare restart, %d containers (median)", r.Containers), Limit: "<= 1000 ms", Value: d, Pass: d <= 1000,
			Measured: fmt.Sprintf("%s ms (%s - %s; verify's settle included)", num(d), num(r.Apply.WallMS.Median), num(r.Bare.WallMS.Median))})
		// verify keeps probing until 500 ms after ready, by design; the
		// canary's time counts toward it, so the wait itself is the rest.
		settle := math.Max(0, 500-r.Phases["canary"].Median)
		gs[len(gs)-1].Measured = strings.TrimSuffix(gs[len(gs)-1].Measured, ")") + fmt.Sprintf("; %s ms without its %s ms wait)", num(d-settle), num(settle))
		rss := r.OwnHWMMiB.Max
		gs = append(gs, Goal{Name: "liveswap peak RSS during apply (worst run)", Limit: "<= 50 MiB", Value: rss, Pass: rss > 0 && rss <= 50,
			Measured: fmt.Sprintf("%.1f MiB own VmHWM (median %.1f); wait4 ru_maxrss %.1f MiB counts `--version` runs of the new binary", rss, r.OwnHWMMiB.Median, r.PeakRSSMiB.Max)})
	}
	if kind == plan.Liveswapd && len(r.Scale) > 0 {
		last := r.Scale[len(r.Scale)-1]
		v, how := last.Total.Median, fmt.Sprintf("%s ms measured at %d", num(last.Total.Median), last.Containers)
		if last.Containers < 1000 && r.Extrapolated1000MS > 0 {
			v, how = r.Extrapolated1000MS, fmt.Sprintf("%s ms EXTRAPOLATED from %d and %d (%s ms at %d)", num(r.Extrapolated1000MS),
				r.Scale[len(r.Scale)-2].Containers, last.Containers, num(last.Total.Median), last.Containers)
		}
		linear := r.GrowthExponent <= 1.15
		gs = append(gs, Goal{Name: "snapshot + verify of 1000 containers; growth linear or better", Limit: "<= 1000 ms; n^k, k <= 1.15", Value: v,
			Pass: v <= 1000 && linear, Measured: fmt.Sprintf("%s; k = %.2f", how, r.GrowthExponent)})
	}
	return gs
}

// keepLog copies a daemon's log before its folder is removed.
func keepLog(src, dst string) {
	b, err := os.ReadFile(src)
	if err == nil {
		os.MkdirAll(filepath.Dir(dst), 0o755)
		err = os.WriteFile(dst, b, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: keeping %s: %v\n", src, err)
	}
}

func counts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 2 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func index(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return len(xs)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func pidsText(limit int, ok bool) string {
	if !ok {
		return "none"
	}
	return strconv.Itoa(limit) + " tasks"
}
