package upgrade

import (
	"time"

	"github.com/liveswap/liveswap/internal/host/probe"
)

// Result is how a run of apply, rollback or enable-live-restore ended.
type Result string

// Results of a run.
const (
	Upgraded       Result = "upgraded"        // new binary running, workloads verified
	Enabled        Result = "enabled"         // live restore on by a reload, workloads verified
	AlreadyEnabled Result = "already-enabled" // live restore was on: nothing touched
	Planned        Result = "planned"         // dry run: nothing touched
	Refused        Result = "refused"         // stopped before anything was touched
	RolledBack     Result = "rolled-back"     // apply undid itself: the previous binary runs again, workloads verified
	Restored       Result = "restored"        // the previous daemon.json is back and reloaded
	Failed         Result = "failed"          // workloads interrupted, or the undo failed: operator needed
	// `liveswap rollback`, asked for by an operator:
	Reverted           Result = "reverted"            // the previous binary runs again, workloads verified
	RevertedUnverified Result = "reverted-unverified" // the previous binary runs again; no snapshot, so no container compared
)

// ExitCode is liveswap's exit status for a result: 0 done (or nothing to
// do), 1 refused before touching anything, 3 undone, 4 operator needed,
// 5 reverted as asked but not verified (check the workloads). Usage
// errors exit 2 before any run.
func (r Result) ExitCode() int {
	switch r {
	case Upgraded, Enabled, AlreadyEnabled, Planned, Reverted:
		return 0
	case Refused:
		return 1
	case RolledBack, Restored:
		return 3
	case RevertedUnverified:
		return 5
	}
	return 4
}

// Report is the outcome of apply, rollback or resume. Its JSON field names
// are a stable interface (pinned by a test).
type Report struct {
	Result      Result `json:"result"`
	Run         string `json:"run"`
	Target      string `json:"target"`
	Unit        string `json:"unit"`
	FromVersion string `json:"from_version"`
	ToVersion   string `json:"to_version"`
	// Components are the stack's programs the run swapped, each with its
	// own versions (containerd beside dockerd).
	Components       []ComponentReport `json:"components"`
	Containers       []Change          `json:"containers"`
	Probes           []ProbeReport     `json:"probes"`
	DaemonDowntimeMS float64           `json:"daemon_downtime_ms"`
	// APICalls and APIErrors: calls liveswap made to the engine API every
	// 10 ms from the snapshot to verify, and how many failed (refused,
	// reset, an error status, or no answer within a second).
	APICalls  int           `json:"api_calls"`
	APIErrors int           `json:"api_errors"`
	Phases    []PhaseReport `json:"phases"`
	// Packages are a package plan's packages: what dpkg records before and
	// after, and what their maintainer scripts asked of systemd and were
	// denied (upgrade/packages.go).
	Packages []PackageReport `json:"packages,omitempty"`
	Checks   []CheckResult   `json:"checks,omitempty"`
	Steps    []string        `json:"steps,omitempty"` // dry run: what would happen
	Error    string          `json:"error,omitempty"`
	Remedy   string          `json:"remedy,omitempty"`
}

// ComponentReport is one swapped binary: its component, the unit that
// runs it ("" for runc and the shim) and the versions it went between.
type ComponentReport struct {
	Name        string `json:"name"`
	Unit        string `json:"unit,omitempty"`
	FromVersion string `json:"from_version"`
	ToVersion   string `json:"to_version"`
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

// CheckResult is a preflight verdict as the report carries it.
type CheckResult struct {
	ID      string `json:"id"`
	Status  string `json:"status"` // ok, warn, fail, skip
	Message string `json:"message"`
	Remedy  string `json:"remedy,omitempty"`
}

// ExitCode is the exit status of the report's result.
func (r *Report) ExitCode() int { return r.Result.ExitCode() }

func probeReport(s probe.Stats) ProbeReport {
	return ProbeReport{Name: s.Name, Kind: s.Kind, Target: s.Target, Sent: s.Sent, Failed: s.Failed,
		MaxGapMS: s.MaxGapMS(), P99MS: s.P99MS()}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
