package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is a whole run; -json writes it.
type Summary struct {
	Module   string         `json:"module"`
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	LockWait float64        `json:"lock_wait_seconds"` // of Seconds, waiting for other end-to-end runs
	Counts   map[string]int `json:"counts"`
	Results  []Result       `json:"results"`
	Absent   []Absent       `json:"absent"`
}

// Passed reports whether every mutation was caught.
func (s *Summary) Passed() bool {
	for _, r := range s.Results {
		if r.Status != Caught && r.Status != Vetted {
			return false
		}
	}
	return true
}

func summarize(module string, started time.Time, waited time.Duration, results []Result, absent []Absent) *Summary {
	s := &Summary{Module: module, Started: started.UTC(), Seconds: time.Since(started).Seconds(), LockWait: waited.Seconds(),
		Counts: map[string]int{}, Results: results, Absent: absent}
	for _, r := range results {
		s.Counts[r.Status]++
	}
	return s
}

// caughtBy is the result column: the tests that caught the mutation, or
// why it has no such test.
func caughtBy(r Result, max int) string {
	switch r.Status {
	case Caught:
		by := r.CaughtBy
		more := ""
		if len(by) > max {
			by, more = by[:max], fmt.Sprintf(" (+%d more)", len(by)-max)
		}
		return strings.Join(by, ", ") + more
	case Uncaught:
		var ran []string
		for _, s := range r.Steps {
			ran = append(ran, Step{Pkg: s.Pkg, Run: s.Run}.String())
		}
		return "none of: " + strings.Join(ran, "; ")
	}
	return r.Detail
}

// writeTable prints one line per mutation, then the totals.
func writeTable(w io.Writer, s *Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRESULT\tSECONDS\tCAUGHT BY")
	for _, r := range s.Results {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\n", r.ID, r.Status, r.Seconds, caughtBy(r, 2))
	}
	tw.Flush()
	for _, a := range s.Absent {
		fmt.Fprintf(w, "not a verdict yet: %s: %s\n", a.ID, a.Note)
	}
	fmt.Fprintf(w, "%s in %s\n", totals(s), took(s))
}

// took is the run's wall time and the part of it spent waiting for other
// end-to-end runs to release the lock.
func took(s *Summary) string {
	d := (time.Duration(s.Seconds) * time.Second).String()
	if s.LockWait >= 1 {
		d += fmt.Sprintf(" (%s of it waiting for the e2e lock)", time.Duration(s.LockWait)*time.Second)
	}
	return d
}

func totals(s *Summary) string {
	var parts []string
	for _, st := range []string{Caught, Uncaught, Invalid, Stale, Errored, Vetted} {
		if n := s.Counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return fmt.Sprintf("%d mutations: %s", len(s.Results), strings.Join(parts, ", "))
}

// writeMarkdown is the table docs/mutation.md shows.
func writeMarkdown(w io.Writer, s *Summary) {
	fmt.Fprintln(w, "| mutation | verdict switched off | result | caught by | s |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range s.Results {
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %.0f |\n", r.ID, mdEscape(r.Verdict), r.Status, mdEscape(caughtBy(r, 3)), r.Seconds)
	}
	for _, a := range s.Absent {
		fmt.Fprintf(w, "| `%s` | %s | absent | | |\n", a.ID, mdEscape(a.Note))
	}
	fmt.Fprintf(w, "\n%s in %s.\n", totals(s), took(s))
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func writeJSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// writeList prints the table without running it: what each entry breaks,
// where, and which tests must notice. A stale anchor shows at once.
func writeList(w io.Writer, table []Mutation, stale func(Mutation) error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFILE\tTESTS\tVERDICT")
	for _, m := range table {
		var tests []string
		for _, s := range m.Tests {
			tests = append(tests, s.String())
		}
		v := m.Verdict
		if err := stale(m); err != nil {
			v = "STALE: " + err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.File, strings.Join(tests, "; "), v)
	}
	tw.Flush()
}
