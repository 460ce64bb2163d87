package main

import (
	"bufio"
	"encoding/json"
	"io"
	"sort"
	"strings"
)

// testEvent is one line of `go test -json` (test2json).
type testEvent struct {
	Action  string
	Test    string
	Output  string
	Elapsed float64
}

// testRun is what one `go test -json` run says.
type testRun struct {
	Ran     int      // tests and subtests that started
	Failed  []string // failing tests, innermost only (TestX/case, not TestX too)
	Excerpt []string // the first lines the first failing test printed
	Events  int      // JSON events read: 0 means go test never got to run
	Elapsed float64  // seconds the test binary ran (no build, no wait for the lock)
}

// maxExcerpt bounds the lines kept from a failing test's output.
const maxExcerpt = 8

// parseTestJSON reads `go test -json` output. Lines that are not JSON
// (a build error printed before test2json took over) are skipped.
func parseTestJSON(r io.Reader) testRun {
	var tr testRun
	failed := map[string]bool{}
	output := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e testEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Action == "" {
			continue
		}
		tr.Events++
		if e.Test == "" {
			if e.Action == "pass" || e.Action == "fail" {
				tr.Elapsed += e.Elapsed
			}
			continue
		}
		switch e.Action {
		case "run":
			tr.Ran++
		case "fail":
			failed[e.Test] = true
		case "output":
			line := strings.TrimRight(e.Output, "\n")
			t := strings.TrimSpace(line)
			// test2json's own framing lines say nothing the status does not.
			if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
				continue
			}
			if len(output[e.Test]) < maxExcerpt {
				output[e.Test] = append(output[e.Test], t)
			}
		}
	}
	tr.Failed = innermost(failed)
	for _, name := range tr.Failed {
		if len(output[name]) > 0 {
			tr.Excerpt = output[name]
			break
		}
	}
	return tr
}

// innermost drops a failed test whose subtest failed too: the subtest
// names the case that caught the mutation.
func innermost(failed map[string]bool) []string {
	var out []string
	for name := range failed {
		leaf := true
		for other := range failed {
			if strings.HasPrefix(other, name+"/") {
				leaf = false
				break
			}
		}
		if leaf {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
