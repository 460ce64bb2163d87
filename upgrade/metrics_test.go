package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics reads a metrics file the way Prometheus' text parser does
// (node_exporter's textfile collector uses the same parser).
func parseMetrics(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("metrics do not parse: %v\n%s", err, b)
	}
	return fams
}

// value returns the gauge of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	if fam.GetType() != dto.MetricType_GAUGE {
		t.Errorf("%s is %s, want gauge", name, fam.GetType())
	}
next:
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s has no series with labels %v", name, want)
	return 0
}

func TestMetricsFileParses(t *testing.T) {
	now := time.Unix(1795000000, 500e6)
	tests := []struct {
		name     string
		report   Report
		wantExit float64
	}{
		{"upgraded", Report{Result: Upgraded, Run: "20261128T180851Z", Target: "liveswapd", Unit: "liveswapd.service",
			FromVersion: "1.0.0", ToVersion: "1.0.1", DaemonDowntimeMS: 39.5,
			Phases:     []PhaseReport{{Name: "restart", Status: "done", DurationMS: 33}, {Name: "verify", Status: "done", DurationMS: 500}},
			Containers: []Change{{Name: "web"}, {Name: "cache"}},
			Probes: []ProbeReport{{Name: "web", Kind: "http", Target: "http://127.0.0.1:8080/", Sent: 31, Failed: 0, MaxGapMS: 21.4, P99MS: 1.2},
				{Name: "cache", Kind: "redis", Target: "127.0.0.1:6379", Sent: 30, Failed: 2, MaxGapMS: 80, P99MS: 0.5}}}, 0},
		{"rolled back, odd label values", Report{Result: RolledBack, Unit: `we"ird\unit` + "\n.service", Target: "docker",
			FromVersion: "20.10.24+dfsg1", ToVersion: "20.10.24+dfsg1", Error: "ready: boom",
			Phases:     []PhaseReport{{Name: "ready", Status: "failed", DurationMS: 3000}, {Name: "rollback", Status: "done", DurationMS: 900}},
			Containers: []Change{{Name: "web", Interrupted: true, Reason: "pid changed"}}}, 3},
		{"refused, nothing measured", Report{Result: Refused, Unit: "docker.service", Target: "docker"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "liveswap.prom")
			if err := tt.report.WriteMetricsFile(path, now); err != nil {
				t.Fatal(err)
			}
			fams := parseMetrics(t, path)
			unit := map[string]string{"unit": tt.report.Unit}
			if got := value(t, fams, "liveswap_last_run_exit_code", unit); got != tt.wantExit {
				t.Errorf("exit code %v, want %v", got, tt.wantExit)
			}
			if got := value(t, fams, "liveswap_last_run_timestamp_seconds", unit); got != 1795000000.5 {
				t.Errorf("timestamp %v", got)
			}
			for _, res := range Results {
				want := 0.0
				if res == tt.report.Result {
					want = 1
				}
				if got := value(t, fams, "liveswap_last_run_result", map[string]string{"unit": tt.report.Unit, "result": string(res)}); got != want {
					t.Errorf("result %s = %v, want %v", res, got, want)
				}
			}
			value(t, fams, "liveswap_last_run_info", map[string]string{"unit": tt.report.Unit,
				"from_version": tt.report.FromVersion, "to_version": tt.report.ToVersion, "result": string(tt.report.Result)})
			if got := value(t, fams, "liveswap_last_run_daemon_downtime_seconds", unit); got != tt.report.DaemonDowntimeMS/1000 {
				t.Errorf("downtime %v", got)
			}
			interrupted := 0.0
			for _, c := range tt.report.Containers {
				if c.Interrupted {
					interrupted++
				}
			}
			if got := value(t, fams, "liveswap_last_run_containers_interrupted", unit); got != interrupted {
				t.Errorf("interrupted %v, want %v", got, interrupted)
			}
			for _, p := range tt.report.Probes {
				l := map[string]string{"unit": tt.report.Unit, "probe": p.Name, "kind": string(p.Kind)}
				if got := value(t, fams, "liveswap_last_run_probe_failures", l); got != float64(p.Failed) {
					t.Errorf("probe %s failures %v, want %d", p.Name, got, p.Failed)
				}
				if got := value(t, fams, "liveswap_last_run_probe_requests", l); got != float64(p.Sent) {
					t.Errorf("probe %s requests %v, want %d", p.Name, got, p.Sent)
				}
				if got := value(t, fams, "liveswap_last_run_probe_max_gap_seconds", l); got != p.MaxGapMS/1000 {
					t.Errorf("probe %s max gap %v", p.Name, got)
				}
			}
			for _, ph := range tt.report.Phases {
				l := map[string]string{"unit": tt.report.Unit, "phase": ph.Name, "status": ph.Status}
				if got := value(t, fams, "liveswap_last_run_phase_duration_seconds", l); got != ph.DurationMS/1000 {
					t.Errorf("phase %s %v", ph.Name, got)
				}
			}
			// Nothing but the file is left: the temporary one was renamed.
			ents, _ := os.ReadDir(filepath.Dir(path))
			if len(ents) != 1 {
				t.Errorf("folder holds %d entries, want only the metrics file", len(ents))
			}
		})
	}
}

func TestMetricsFileErrorNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "liveswap.prom")
	err := (&Report{Result: Upgraded}).WriteMetricsFile(path, time.Now())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v does not name %s", err, path)
	}
}
