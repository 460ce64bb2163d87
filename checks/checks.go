// Package checks holds liveswap's pre-flight checks: may this daemon be
// upgraded live, with this new binary, on this host, right now?
//
// A check is a small value with a stable ID (used by --skip and in every
// output format), a one-line description and a Run function returning its
// verdict: ok, warn, fail or skip, with a message and a remedy. The list of
// checks is a plain ordered slice built per command (see Preflight); a
// runner runs them in order against one Env, which holds the plan and the
// lazily built dependencies (systemd connection, engine client, container
// inspections, the new binary's version) that checks share.
package checks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Status is a check's verdict.
type Status string

// Verdicts. Warnings let an upgrade proceed (unless Strict); failures stop
// it; skipped checks did not run (by --skip or because they do not apply).
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is what one check found.
type Result struct {
	Status  Status
	Message string   // one line: what was found
	Remedy  string   // what to do about it (empty when nothing)
	Details []string // optional lines: per container, per binary, drop-ins
}

// Check is one pre-flight check.
type Check struct {
	ID          string // stable, e.g. unit.kill-mode; never renamed
	Description string // what it verifies, for --help and reports
	Func        func(ctx context.Context, env *Env) Result
}

// Run runs the check, turning a panic into a failure so one broken check
// cannot hide the others' verdicts.
func (c Check) Run(ctx context.Context, env *Env) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Fail, Message: fmt.Sprintf("check crashed: %v", p),
				Remedy: "report this as a liveswap bug; --skip " + c.ID + " to go on"}
		}
	}()
	return c.Func(ctx, env)
}

// CheckResult is a Result with the check that produced it and its timing.
type CheckResult struct {
	ID          string
	Description string
	Result
	Duration time.Duration
}

// Report is the outcome of a run of checks.
type Report struct {
	Target      TargetInfo
	FromVersion string // the running daemon's version ("" when unknown)
	ToVersion   string // the new binary's version ("" when unknown)
	Strict      bool   // warnings count as failures
	Results     []CheckResult
	Started     time.Time
	Duration    time.Duration
}

// TargetInfo names what was checked.
type TargetInfo struct {
	Kind         string
	Unit         string
	Systemd      string
	Endpoint     string
	DaemonConfig string
	Binary       string // the file being replaced
	NewBinary    string
}

// Failed reports whether the run refuses the upgrade: a check failed, or
// warned under Strict.
func (r *Report) Failed() bool {
	for _, c := range r.Results {
		if c.Status == Fail || (r.Strict && c.Status == Warn) {
			return true
		}
	}
	return false
}

// Count returns how many checks ended with s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Results {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Result returns the result of the check with id, if it ran.
func (r *Report) Result(id string) (CheckResult, bool) {
	for _, c := range r.Results {
		if c.ID == id {
			return c, true
		}
	}
	return CheckResult{}, false
}

// SkipAll in a skip list skips every check.
const SkipAll = "all"

// ValidateSkip rejects skip entries that name no check, so a typo does not
// silently leave a check running. An entry is "all", an ID, or a group
// prefix such as "unit" or "unit.*".
func ValidateSkip(list []Check, skip []string) error {
	var bad []string
	for _, s := range skip {
		matched := false
		for _, c := range list {
			if skipMatches(s, c.ID) {
				matched = true
				break
			}
		}
		if !matched {
			bad = append(bad, s)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return fmt.Errorf("--skip %s: no such check (checks: all, %s)", strings.Join(bad, ", "), strings.Join(ids, ", "))
}

func skipMatches(entry, id string) bool {
	entry = strings.TrimSpace(entry)
	if entry == SkipAll || entry == id {
		return true
	}
	group := strings.TrimSuffix(entry, ".*")
	return strings.HasPrefix(id, group+".")
}

// Run runs list in order against env, skipping the entries of skip, and
// returns the report. Each check gets its result recorded in env before the
// next runs, so later checks can tell a dependency that failed from one
// that was skipped (see Env.Blocked).
func Run(ctx context.Context, env *Env, list []Check, skip []string) *Report {
	rep := &Report{Strict: env.Options.Strict, Started: time.Now()}
	for _, c := range list {
		var r Result
		begin := time.Now()
		if slices.ContainsFunc(skip, func(s string) bool { return skipMatches(s, c.ID) }) {
			r = Result{Status: Skip, Message: "skipped (--skip " + skipReason(skip, c.ID) + ")"}
		} else if err := ctx.Err(); err != nil {
			r = Result{Status: Fail, Message: "not run: " + err.Error()}
		} else {
			r = c.Run(ctx, env)
		}
		if r.Status == "" {
			r.Status = OK
		}
		env.record(c.ID, r.Status)
		rep.Results = append(rep.Results, CheckResult{ID: c.ID, Description: c.Description, Result: r, Duration: time.Since(begin)})
	}
	rep.Duration = time.Since(rep.Started)
	return rep
}

func skipReason(skip []string, id string) string {
	for _, s := range skip {
		if skipMatches(s, id) {
			return strings.TrimSpace(s)
		}
	}
	return id
}

// IDs returns the IDs of list, sorted, for help texts.
func IDs(list []Check) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.ID
	}
	sort.Strings(out)
	return out
}

// Helpers that keep check bodies short.

func ok(format string, a ...any) Result {
	return Result{Status: OK, Message: fmt.Sprintf(format, a...)}
}

func skip(format string, a ...any) Result {
	return Result{Status: Skip, Message: fmt.Sprintf(format, a...)}
}

func warn(remedy, format string, a ...any) Result {
	return Result{Status: Warn, Message: fmt.Sprintf(format, a...), Remedy: remedy}
}

func fail(remedy, format string, a ...any) Result {
	return Result{Status: Fail, Message: fmt.Sprintf(format, a...), Remedy: remedy}
}

// worst returns the most severe of statuses (fail > warn > ok > skip).
func worst(ss ...Status) Status {
	rank := map[Status]int{Skip: 0, OK: 1, Warn: 2, Fail: 3}
	w := Skip
	for _, s := range ss {
		if rank[s] > rank[w] {
			w = s
		}
	}
	return w
}
