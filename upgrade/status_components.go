package upgrade

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/dpkg"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

// ComponentState is one program of the last run's plan as the host has it
// now, from three witnesses that must agree: the version dpkg records for
// its package, the file on disk, and the process its unit runs.
type ComponentState struct {
	Name           string `json:"name"`
	Path           string `json:"path"`
	Unit           string `json:"unit,omitempty"`
	Package        string `json:"package,omitempty"`
	PackageVersion string `json:"package_version,omitempty"` // dpkg's record
	FileVersion    string `json:"file_version,omitempty"`    // what the file on disk says
	PID            int    `json:"pid,omitempty"`
	RunningVersion string `json:"running_version,omitempty"` // what the running process's file says
	// Disagreement names what does not agree; empty when all do.
	Disagreement string `json:"disagreement,omitempty"`
}

// componentStates reads each binary of p as status shows it. A manager
// that cannot be reached leaves the running side empty, and says so.
func componentStates(ctx context.Context, p *plan.Plan) []ComponentState {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var sd *systemd.Manager
	sdErr := ""
	if scope, err := systemd.ParseScope(p.Target.Systemd); err == nil {
		if sd, err = systemd.Connect(ctx, scope); err != nil {
			sdErr = err.Error()
		} else {
			defer sd.Close()
		}
	}
	var out []ComponentState
	for _, b := range p.Binaries {
		c := p.ComponentOf(b)
		s := ComponentState{Name: c.Name, Path: b.Path, Unit: p.UnitOf(b)}
		var bad []string
		if v, err := checks.RunVersionArgs(ctx, b.Path, c.VersionArgs, versionTimeout); err == nil {
			s.FileVersion = v.Version
		} else {
			bad = append(bad, "the file on disk does not answer: "+err.Error())
		}
		if k := p.PackageOf(b.Path); k != nil {
			s.Package = k.Name
			if inst, err := dpkg.Query(ctx, k.Name); err != nil {
				bad = append(bad, err.Error())
			} else {
				s.PackageVersion = inst.Version
				if !inst.OK() {
					bad = append(bad, fmt.Sprintf("dpkg records %s as %q, not installed and configured (ii)", k.Name, inst.Status))
				}
				if s.FileVersion != "" && !strings.HasPrefix(inst.Version, upstream(s.FileVersion)) {
					bad = append(bad, fmt.Sprintf("dpkg records %s %s, the file says %s: it was replaced behind dpkg's back", k.Name, inst.Version, s.FileVersion))
				}
			}
		}
		if s.Unit != "" && sd != nil {
			if u, err := sd.Unit(ctx, s.Unit); err == nil && u.MainPID > 0 {
				s.PID = u.MainPID
				exe := fmt.Sprintf("/proc/%d/exe", u.MainPID)
				if v, err := checks.RunVersionArgs(ctx, exe, c.VersionArgs, versionTimeout); err == nil {
					s.RunningVersion = v.Version
				}
				if sum, err := checks.FileSHA256(b.Path); err == nil {
					if err := SameExecutable(u.MainPID, b.Path, sum, s.Unit); err != nil {
						bad = append(bad, fmt.Sprintf("the running process is not the file on disk (%s runs %s): restart %s", s.Unit, orDash(s.RunningVersion), s.Unit))
					}
				}
			} else if err == nil {
				bad = append(bad, s.Unit+" has no main process")
			}
		} else if s.Unit != "" {
			bad = append(bad, "the running process is not known: "+sdErr)
		}
		s.Disagreement = strings.Join(bad, "; ")
		out = append(out, s)
	}
	return out
}

// upstream is a version without its packaging suffix: 20.10.24 of
// 20.10.24+dfsg1 as dockerd prints it.
func upstream(v string) string {
	if i := strings.IndexAny(v, "+~-"); i > 0 {
		return v[:i]
	}
	return v
}
