package liverestore

import (
	"context"
	"fmt"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

// Validation is the verdict on the candidate file.
type Validation struct {
	Rules    string               // which rules judged it
	Findings []daemonjson.Finding // warnings and failures only
	Starts   bool                 // the daemon would start (and reload) with it
}

// ValidateCandidate judges data as the daemon of kind spec would read it
// from path, with the unit's command line (execStart): Docker's rules of
// the running version for dockerd, and the daemon binary's own --validate
// when its release has it — for a kind without Docker's rules (liveswapd)
// that is the only verdict. The binary asked is the one the unit runs: the
// daemon that will reload the file. A reload that fails to parse the file
// keeps the old settings silently, so anything short of "would start"
// refuses the change.
func ValidateCandidate(ctx context.Context, spec *plan.KindSpec, path string, data []byte, execStart []systemd.Exec, version string, swarm bool) *Validation {
	var binary string
	var argv []string
	if len(execStart) > 0 {
		binary, argv = execStart[0].Path, execStart[0].Argv
	}
	v := &Validation{Rules: spec.Name + " rules", Starts: true}
	if spec.Config.DockerRules {
		rules, _ := daemonjson.RulesFor(daemonjson.Candidate{Source: "the running daemon", Version: version})
		rep := daemonjson.Validate(data, daemonjson.Options{File: path, DockerVersion: rules, ExecStart: argv, Swarm: swarm})
		v.Rules = "dockerd " + rep.DockerVersion + " rules"
		for _, f := range rep.Findings {
			if f.ID == daemonjson.IDLiveRestore && f.Severity != daemonjson.OK {
				v.Starts = false // the edit did not turn it on: a flag overrides it
			}
			v.add(f)
		}
	}
	if binary == "" || !spec.Config.Validated(version) {
		if !spec.Config.DockerRules {
			// Nothing else could judge the file: never apply it unjudged.
			v.add(daemonjson.Finding{ID: daemonjson.IDValid, Severity: daemonjson.Fail,
				Message: fmt.Sprintf("no %s binary can judge the file (ExecStart %q, version %q)", spec.Name, binary, version),
				Remedy:  "check the unit's ExecStart"})
		}
		return v
	}
	var flags []string
	if len(argv) > 1 {
		flags = argv[1:]
	}
	b := daemonjson.Binary{Path: binary, VersionOutput: version, Version: version, Validated: spec.Config.Validated}
	res, err := b.Validate(ctx, path, data, flags)
	switch {
	case err != nil:
		id := daemonjson.IDValid
		if spec.Config.DockerRules {
			id = daemonjson.IDDockerdValidate
		}
		v.add(daemonjson.Finding{ID: id, Severity: daemonjson.Fail, Message: err.Error(),
			Remedy: "check that " + binary + " runs on this host"})
	case spec.Config.DockerRules:
		// A second opinion: it can refuse, never accept what the rules refuse.
		v.add(res.Finding())
	default:
		v.Rules = res.Rules(spec.Name)
		for _, f := range res.Findings() {
			v.add(f)
		}
		if res.LiveRestore != nil && !*res.LiveRestore {
			v.add(daemonjson.Finding{ID: daemonjson.IDLiveRestore, Severity: daemonjson.Fail,
				Message: "live-restore stays off with this file and the unit's flags", Remedy: "remove --live-restore=false from the unit's ExecStart"})
		}
	}
	return v
}

// add keeps warnings and failures; a failure means the daemon would not
// start (or reload) with the file.
func (v *Validation) add(f daemonjson.Finding) {
	switch f.Severity {
	case daemonjson.OK:
		return
	case daemonjson.Fail:
		v.Starts = false
	}
	v.Findings = append(v.Findings, f)
}
