package main

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Mutation switches one verdict of liveswap off: Original, which must occur
// exactly once in File, becomes Replacement. At least one of Tests must
// then fail.
type Mutation struct {
	ID          string // stable, grouped by what it judges: compare.pid, checks.unit.active
	Verdict     string // the verdict it switches off, in a line
	File        string // relative to the module root
	Original    string
	Replacement string
	Tests       []Step // run in order; the first that fails (and passes without the mutation) catches it
	Why         string // what would go wrong unseen if no test caught it
}

// Step is one `go test` run.
type Step struct {
	Pkg string // relative package path: ./upgrade, ./e2e
	Run string // -run regexp; "" runs every test of the package
}

func (s Step) String() string {
	if s.Run == "" {
		return s.Pkg
	}
	return s.Pkg + " -run " + s.Run
}

// Absent is a verdict the issue asks for that liveswap does not give yet:
// there is nothing to switch off until it exists.
type Absent struct {
	ID   string
	Note string
}

// lockedPkgs start private systemd managers or daemons: their tests run
// under the shared e2e lock with LIVESWAP_E2E=require.
var lockedPkgs = []string{"./e2e", "./internal/host/engine", "./internal/host/systemd", "./checks/daemonjson"}

// Locked reports whether the step runs under the e2e lock.
func (s Step) Locked() bool {
	for _, p := range lockedPkgs {
		if s.Pkg == p || strings.HasPrefix(s.Pkg, p+"/") {
			return true
		}
	}
	return false
}

// StaleError is a mutation whose original text does not occur exactly once.
type StaleError struct {
	File  string
	Count int
}

func (e *StaleError) Error() string {
	if e.Count == 0 {
		return e.File + ": the original text is not there (the code changed: update the table)"
	}
	return fmt.Sprintf("%s: the original text occurs %d times, want exactly once (lengthen it)", e.File, e.Count)
}

// apply returns src with original replaced by replacement, or a
// *StaleError unless original occurs exactly once.
func apply(src []byte, file, original, replacement string) ([]byte, error) {
	if n := bytes.Count(src, []byte(original)); n != 1 {
		return nil, &StaleError{File: file, Count: n}
	}
	return bytes.Replace(src, []byte(original), []byte(replacement), 1), nil
}

// Pkg is the package the mutated file belongs to (what `go vet` checks).
func (m Mutation) Pkg() string { return "./" + path.Dir(m.File) }

// validate reports what is wrong with the table itself.
func validate(table []Mutation, absent []Absent) []string {
	var bad []string
	seen := map[string]bool{}
	idRE := regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)+$`)
	for _, a := range absent {
		if seen[a.ID] {
			bad = append(bad, a.ID+": duplicate ID")
		}
		seen[a.ID] = true
	}
	for _, m := range table {
		switch {
		case !idRE.MatchString(m.ID):
			bad = append(bad, fmt.Sprintf("%q: an ID is dotted lower-case words (group.name)", m.ID))
		case seen[m.ID]:
			bad = append(bad, m.ID+": duplicate ID")
		}
		seen[m.ID] = true
		switch {
		case m.Verdict == "" || m.Why == "" || m.File == "":
			bad = append(bad, m.ID+": verdict, why and file are required")
		case m.Original == "" || m.Original == m.Replacement:
			bad = append(bad, m.ID+": the replacement must differ from a non-empty original")
		case len(m.Tests) == 0:
			bad = append(bad, m.ID+": no test listed")
		}
		for _, s := range m.Tests {
			if !strings.HasPrefix(s.Pkg, "./") {
				bad = append(bad, fmt.Sprintf("%s: package %q is not relative (./...)", m.ID, s.Pkg))
			}
			if _, err := regexp.Compile(s.Run); err != nil {
				bad = append(bad, fmt.Sprintf("%s: -run %q: %v", m.ID, s.Run, err))
			}
		}
	}
	return bad
}

// selectMutations keeps the entries named by only (comma-separated IDs or
// groups: "compare" selects compare.pid and the other compare.* entries);
// an empty only keeps all. A name that selects nothing is an error.
func selectMutations(table []Mutation, only string) ([]Mutation, error) {
	if strings.TrimSpace(only) == "" {
		return table, nil
	}
	var names []string
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSuffix(strings.TrimSpace(n), ".*"); n != "" {
			names = append(names, n)
		}
	}
	var out []Mutation
	used := map[string]bool{}
	for _, m := range table {
		for _, n := range names {
			if m.ID == n || strings.HasPrefix(m.ID, n+".") {
				out = append(out, m)
				used[n] = true
				break
			}
		}
	}
	var unknown []string
	for _, n := range names {
		if !used[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("-only %s: no such mutation (see -list)", strings.Join(unknown, ","))
	}
	return out, nil
}
