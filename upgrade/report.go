package upgrade

import (
	"time"

	"github.com/liveswap/liveswap/internal/host/probe"
)

// Results of a run.
const (
	Upgraded   = "upgraded"    // new binary running, workloads verified
	Refused    = "refused"     // stopped before anything was touched
	RolledBack = "rolled-back" // old binary running again, workloads verified
	Failed     = "failed"      // operator needed
	Planned    = "planned"     // dry run
)

// Report is the outcome of apply, rollback or resume. Its JSON field names
// are a stable interface (pinned by a test).
type Report struct {
	Result           string        `json:"result"`
	Run              string        `json:"run"`
	Target           string        `json:"target"`
	Unit             string        `json:"unit"`
	FromVersion      string        `json:"from_version"`
	ToVersion        string        `json:"to_version"`
	Containers       []Change      `json:"containers"`
	Probes           []ProbeReport `json:"probes"`
	DaemonDowntimeMS float64       `json:"daemon_downtime_ms"`
	Phases           []PhaseReport `json:"phases"`
	Checks           []CheckResult `json:"checks,omitempty"`
	Steps            []string      `json:"steps,omitempty"` // dry run: what would happen
	Error            string        `json:"error,omitempty"`
	Remedy           string        `json:"remedy,omitempty"`
}

// ProbeReport is one workload probe's figures.
type ProbeReport struct {
	Name     string     `json:"name"`
	Kind     probe.Kind `json:"kind"`
	Target   string     `json:"target"`
	Sent     int        `json:"sent"`
	Failed   int        `json:"failed"`
	MaxGapMS float64    `json:"max_gap_ms"`
	P99MS    float64    `json:"p99_ms"`
}

// PhaseReport is one phase's outcome.
type PhaseReport struct {
	Name       string  `json:"name"`
	Status     string  `json:"status"` // done, failed, skipped
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

// CheckResult is a preflight verdict as the report carries it.
type CheckResult struct {
	ID      string `json:"id"`
	Status  string `json:"status"` // ok, warn, fail, skip
	Message string `json:"message"`
	Remedy  string `json:"remedy,omitempty"`
}

// ExitCode maps a result to liveswap's exit status.
func (r *Report) ExitCode() int {
	switch r.Result {
	case Upgraded, Planned:
		return 0
	case Refused:
		return 1
	case RolledBack:
		return 3
	default:
		return 4
	}
}

func probeReport(s probe.Stats) ProbeReport {
	return ProbeReport{Name: s.Name, Kind: s.Kind, Target: s.Target, Sent: s.Sent, Failed: s.Failed,
		MaxGapMS: s.MaxGapMS(), P99MS: s.P99MS()}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
