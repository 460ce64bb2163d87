package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Stat is the median and range of a series.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func stat(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

func (s Stat) cell() string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

// num prints a millisecond figure with the precision it deserves.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// Summary is the per-arm statistics of one target.
type Summary struct {
	APIDownMS  Stat `json:"api_unreachable_ms"`
	NginxGapMS Stat `json:"nginx_max_gap_ms"`
	RedisGapMS Stat `json:"redis_max_gap_ms"`
	MaxGapMS   Stat `json:"max_gap_ms"`
	WallMS     Stat `json:"wall_ms"`
	Failed     int  `json:"failed_probes"`
	Sent       int  `json:"sent_probes"`
	APIErrors  int  `json:"api_errors"`
	APICalls   int  `json:"api_calls"`
}

func summarize(arms []Arm, kind string) Summary {
	var api, ng, rg, mg, wall []float64
	var s Summary
	for _, a := range arms {
		// An operation that failed (an apply that rolled back) measured
		// something else; it is named among the sanity failures instead.
		if a.Kind != kind || a.Error != "" {
			continue
		}
		api, ng, rg, mg, wall = append(api, a.APIDownMS), append(ng, a.NginxGapMS), append(rg, a.RedisGapMS), append(mg, a.MaxGapMS()), append(wall, a.WallMS)
		s.Failed += a.Failed()
		s.Sent += a.NginxSent + a.RedisSent
		s.APIErrors += a.APIErrors
		s.APICalls += a.APICalls
	}
	s.APIDownMS, s.NginxGapMS, s.RedisGapMS, s.MaxGapMS, s.WallMS = stat(api), stat(ng), stat(rg), stat(mg), stat(wall)
	return s
}

// Goal is one of issue 6's targets with its measured value.
type Goal struct {
	Name     string  `json:"name"`
	Limit    string  `json:"limit"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Pass     bool    `json:"pass"`
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.Inf(1)
	}
	return a / b
}

// printTarget writes one target's tables.
func printTarget(w io.Writer, r *TargetResult) {
	fmt.Fprintf(w, "\n### %s %s\n\n", r.Target, r.Version)
	if r.Error != "" {
		fmt.Fprintf(w, "FAILED: %s\n", r.Error)
	}
	if len(r.Arms) > 0 {
		fmt.Fprintf(w, "%d running containers (nginx, redis, %d × /bin/sleep); %d rounds of bare restart, liveswap apply (same-version swap, built CLI) and no restart, interleaved; "+
			"nginx and redis probed every %.0f ms, the API (GET /_ping) every 2 ms; median (min–max).\n\n",
			r.Containers, r.Containers-2, r.Rounds, r.IntervalMS)
		b, a, i := r.Bare, r.Apply, r.Idle
		fmt.Fprintln(w, "| metric | bare restart | liveswap apply | apply/bare | no restart |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		row := func(name string, bs, as, is Stat) {
			ic := "–"
			if is.N > 0 {
				ic = is.cell()
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.2f | %s |\n", name, bs.cell(), as.cell(), ratio(as.Median, bs.Median), ic)
		}
		row("API unreachable (ms)", b.APIDownMS, a.APIDownMS, Stat{})
		fmt.Fprintf(w, "| API calls failed | %d of %d | %d of %d | | %d of %d |\n", b.APIErrors, b.APICalls, a.APIErrors, a.APICalls, i.APIErrors, i.APICalls)
		row("nginx longest gap (ms)", b.NginxGapMS, a.NginxGapMS, i.NginxGapMS)
		row("redis longest gap (ms)", b.RedisGapMS, a.RedisGapMS, i.RedisGapMS)
		fmt.Fprintf(w, "| failed probes | %d of %d | %d of %d | | %d of %d |\n", b.Failed, b.Sent, a.Failed, a.Sent, i.Failed, i.Sent)
		fmt.Fprintf(w, "| wall time (ms) | %s | %s | %.2f | %s |\n", b.WallMS.cell(), a.WallMS.cell(), ratio(a.WallMS.Median, b.WallMS.Median), i.WallMS.cell())
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| liveswap apply | median (min–max) |")
		fmt.Fprintln(w, "|---|---:|")
		for _, ph := range r.PhaseOrder {
			fmt.Fprintf(w, "| phase %s (ms) | %s |\n", ph, r.Phases[ph].cell())
		}
		if r.PreflightMS > 0 {
			fmt.Fprintf(w, "| preflight's slowest checks (warm-up run, %s ms in all) | %s |\n", num(r.PreflightMS), strings.Join(r.SlowChecks, ", "))
		}
		fmt.Fprintf(w, "| liveswap's own API-down figure, 10 ms watch (ms) | %s |\n", r.ReportedDowntime.cell())
		fmt.Fprintf(w, "| peak RSS, wait4 ru_maxrss (MiB) | %s |\n", r.PeakRSSMiB.cell())
		fmt.Fprintf(w, "| own VmHWM, sampled (MiB) | %s |\n", r.OwnHWMMiB.cell())
		fmt.Fprintf(w, "| CPU time user+sys, children included (ms) | %s |\n", r.CPUMS.cell())
	}
	if len(r.Scale) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| running containers | snapshot (ms) | verify: snapshot + compare (ms) | compare alone (ms) | snapshot + verify (ms) | per container (µs) |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|")
		for _, p := range r.Scale {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %.0f |\n", p.Containers, p.Snapshot.cell(), p.Verify.cell(), stat(p.CompareMS).cell(), p.Total.cell(), p.Total.Median*1000/float64(p.Containers))
		}
		if r.Extrapolated1000MS > 0 {
			fmt.Fprintf(w, "| 1000 (extrapolated) | | | | %s | %.0f |\n", num(r.Extrapolated1000MS), r.Extrapolated1000MS)
		}
		if r.ScaleNote != "" {
			fmt.Fprintf(w, "\n%s\n", r.ScaleNote)
		}
		if r.PidsNote != "" && r.Extrapolated1000MS > 0 {
			fmt.Fprintf(w, "\n1000 is extrapolated, not measured: %s.\n", r.PidsNote)
		}
		if r.GrowthExponent != 0 {
			fmt.Fprintf(w, "\ngrowth: time ∝ n^%.2f between the two largest counts (1 is linear)\n", r.GrowthExponent)
		}
	}
	if len(r.Goals) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| target | limit | measured | |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, g := range r.Goals {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", g.Name, g.Limit, g.Measured, verdict(g.Pass))
		}
	}
	if len(r.Sanity) > 0 {
		fmt.Fprintf(w, "\nSANITY CHECKS FAILED:\n  %s\n", strings.Join(r.Sanity, "\n  "))
	}
}
