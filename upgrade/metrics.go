package upgrade

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
)

// Results lists every run result, so the result metric carries one series
// per result (1 for the last run's, 0 for the others) and an alert can
// match on the value instead of a label that appears and disappears.
var Results = []Result{Upgraded, Refused, RolledBack, Failed, Planned, Reverted, RevertedUnverified}

// WriteMetrics renders the report in the Prometheus text exposition format
// for node_exporter's textfile collector. Every series carries the unit, so
// one host upgrading several daemons (one file each) yields distinct series.
func (r *Report) WriteMetrics(w io.Writer, now time.Time) error {
	bw := bufio.NewWriter(w)
	unit := label("unit", r.Unit)
	family := func(name, typ, help string) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	sample := func(name, labels string, v float64) {
		fmt.Fprintf(bw, "%s{%s} %s\n", name, labels, strconv.FormatFloat(v, 'g', -1, 64))
	}

	family("liveswap_last_run_timestamp_seconds", "gauge", "When liveswap wrote the last run's metrics (Unix time).")
	sample("liveswap_last_run_timestamp_seconds", unit, float64(now.UnixNano())/1e9)

	family("liveswap_last_run_info", "gauge", "The last run: target kind, run id and versions (always 1).")
	sample("liveswap_last_run_info", join(unit, label("target", r.Target), label("run", r.Run),
		label("from_version", r.FromVersion), label("to_version", r.ToVersion), label("result", string(r.Result))), 1)

	family("liveswap_last_run_result", "gauge", "1 for the last run's result, 0 for the other results.")
	for _, res := range Results {
		v := 0.0
		if r.Result == res {
			v = 1
		}
		sample("liveswap_last_run_result", join(unit, label("result", string(res))), v)
	}

	family("liveswap_last_run_exit_code", "gauge", "Exit status of the last run (0 upgraded or reverted, 1 refused, 3 rolled back, 4 failed, 5 reverted but not verified).")
	sample("liveswap_last_run_exit_code", unit, float64(r.ExitCode()))

	family("liveswap_last_run_daemon_downtime_seconds", "gauge", "Longest window in which the engine API did not answer during the last run.")
	sample("liveswap_last_run_daemon_downtime_seconds", unit, r.DaemonDowntimeMS/1000)

	family("liveswap_last_run_api_errors", "gauge", "Engine API calls that failed during the last run (liveswap calls the API every 10 ms).")
	sample("liveswap_last_run_api_errors", unit, float64(r.APIErrors))

	total := 0.0
	for _, p := range r.Phases {
		total += p.DurationMS
	}
	family("liveswap_last_run_duration_seconds", "gauge", "Sum of the last run's phase durations.")
	sample("liveswap_last_run_duration_seconds", unit, total/1000)

	if len(r.Phases) > 0 {
		family("liveswap_last_run_phase_duration_seconds", "gauge", "Duration of each phase of the last run, by status (done, failed, skipped).")
		for _, p := range r.Phases {
			sample("liveswap_last_run_phase_duration_seconds", join(unit, label("phase", p.Name), label("status", p.Status)), p.DurationMS/1000)
		}
	}

	interrupted := 0
	for _, c := range r.Containers {
		if c.Interrupted {
			interrupted++
		}
	}
	family("liveswap_last_run_containers", "gauge", "Containers the last run verified.")
	sample("liveswap_last_run_containers", unit, float64(len(r.Containers)))
	family("liveswap_last_run_containers_interrupted", "gauge", "Containers the last run found interrupted (another PID, restarted or gone).")
	sample("liveswap_last_run_containers_interrupted", unit, float64(interrupted))

	if len(r.Probes) > 0 {
		probeLabels := func(p ProbeReport) string {
			return join(unit, label("probe", p.Name), label("kind", string(p.Kind)))
		}
		// Counts of one finished run, not ever-growing counters: gauges.
		for _, m := range []struct {
			name, help string
			value      func(p ProbeReport) float64
		}{
			{"liveswap_last_run_probe_requests", "Probe requests sent to a workload during the last run.", func(p ProbeReport) float64 { return float64(p.Sent) }},
			{"liveswap_last_run_probe_failures", "Probe requests that failed during the last run.", func(p ProbeReport) float64 { return float64(p.Failed) }},
			{"liveswap_last_run_probe_max_gap_seconds", "Longest time between two successful probes of a workload during the last run.", func(p ProbeReport) float64 { return p.MaxGapMS / 1000 }},
			{"liveswap_last_run_probe_p99_seconds", "99th percentile probe latency of a workload during the last run.", func(p ProbeReport) float64 { return p.P99MS / 1000 }},
		} {
			family(m.name, "gauge", m.help)
			for _, p := range r.Probes {
				sample(m.name, probeLabels(p), m.value(p))
			}
		}
	}
	return bw.Flush()
}

// WriteMetricsFile writes the report's metrics to path atomically: the
// textfile collector reads whole files only, and it skips the temporary
// file because its name does not end in .prom.
func (r *Report) WriteMetricsFile(path string, now time.Time) error {
	var b bytes.Buffer
	if err := r.WriteMetrics(&b, now); err != nil {
		return fmt.Errorf("metrics file %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("metrics file: %w (does the folder exist and is it writable?)", err)
	}
	return nil
}

func label(name, value string) string {
	return name + `="` + labelEscaper.Replace(value) + `"`
}

// labelEscaper escapes what the text format requires in label values.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func join(labels ...string) string { return strings.Join(labels, ",") }
