package liverestore

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/plan"
	lsruntime "github.com/liveswap/liveswap/runtime"
)

// Finding is one verdict about the daemon.json that would be written.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"` // warn or fail
	Key      string `json:"key,omitempty"`
	Line     int    `json:"line,omitempty"`
	Col      int    `json:"col,omitempty"`
	Message  string `json:"message"`
	Remedy   string `json:"remedy,omitempty"`
}

// Location is file:line:col, file:line, or the file alone.
func (f Finding) Location(file string) string {
	switch {
	case f.Line > 0 && f.Col > 0:
		return fmt.Sprintf("%s:%d:%d", file, f.Line, f.Col)
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", file, f.Line)
	}
	return file
}

// Validation is the verdict on the candidate file.
type Validation struct {
	Rules    string    // which rules judged it
	Findings []Finding // warnings and failures only
	Starts   bool      // the daemon would start (and reload) with it
}

// ValidateCandidate judges data as the daemon of kind would read it from
// path with the unit's command line argv: dockerd's rules of version for
// docker (checks/daemonjson), liveswapd's own loader for liveswapd. A
// reload that fails to parse the file keeps the old settings silently, so
// anything short of "would start" refuses the change.
func ValidateCandidate(kind, path string, data []byte, argv []string, version string, swarm bool) *Validation {
	if kind == plan.Liveswapd {
		return validateLiveswapd(path, data, argv)
	}
	rep := daemonjson.Validate(data, daemonjson.Options{File: path, DockerVersion: dockerdRules(version), ExecStart: argv, Swarm: swarm})
	v := &Validation{Rules: "dockerd " + rep.DockerVersion + " rules", Starts: rep.Starts()}
	for _, f := range rep.Findings {
		if f.Severity == daemonjson.OK {
			continue
		}
		if f.ID == daemonjson.IDLiveRestore {
			v.Starts = false // the edit did not turn it on: a flag overrides it
		}
		v.Findings = append(v.Findings, Finding{ID: f.ID, Severity: string(f.Severity), Key: f.Key,
			Line: f.Line, Col: f.Col, Message: f.Message, Remedy: f.Remedy})
	}
	return v
}

// dockerdRules picks the rule set of the running daemon's version; an
// unparsable one falls back to the oldest rules (20.10).
func dockerdRules(version string) string {
	if _, err := daemonjson.ParseVersion(version); err != nil {
		return ""
	}
	return version
}

// validateLiveswapd loads the file with liveswapd's configuration code,
// the unit's flags included, as the daemon does on start and on SIGHUP.
func validateLiveswapd(path string, data []byte, argv []string) *Validation {
	v := &Validation{Rules: "liveswapd rules"}
	failf := func(id, remedy string, line, col int, format string, a ...any) *Validation {
		v.Findings = append(v.Findings, Finding{ID: id, Severity: "fail", Line: line, Col: col, Message: fmt.Sprintf(format, a...), Remedy: remedy})
		return v
	}
	fs := flag.NewFlagSet("liveswapd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("version", false, "")
	fs.Bool("v", false, "")
	flags := lsruntime.NewFlags(fs)
	var args []string
	if len(argv) > 1 {
		args = argv[1:]
	}
	if err := fs.Parse(args); err != nil {
		return failf(daemonjson.IDExecStart, "fix the flags of the unit's ExecStart", 0, 0, "ExecStart: %v", err)
	}
	tmp, err := os.CreateTemp("", "liveswap-daemon-json-")
	if err != nil {
		return failf("daemon-json.valid", "free space in the temporary folder", 0, 0, "%v", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return failf("daemon-json.valid", "free space in the temporary folder", 0, 0, "%v", werr)
	}
	flags.ConfigFile = tmp.Name()
	cfg, err := flags.Load()
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), tmp.Name(), path)
		id, line, col := "daemon-json.valid", 0, 0
		var ce *lsruntime.ConfigError
		if errors.As(err, &ce) {
			line, col = ce.Line, ce.Col
			if strings.Contains(ce.Msg, "both as a flag") {
				id = daemonjson.IDConflict
			}
		}
		return failf(id, "fix "+path+" (liveswap validate checks dockerd files; liveswapd names the key and line)", line, col, "%s", msg)
	}
	if !cfg.LiveRestore {
		return failf(daemonjson.IDLiveRestore, "remove --live-restore=false from the unit's ExecStart", 0, 0, "live-restore stays off with this file and the unit's flags")
	}
	v.Starts = true
	return v
}
