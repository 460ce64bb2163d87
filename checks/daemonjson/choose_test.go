package daemonjson

import (
	"errors"
	"testing"
)

func TestRulesFor(t *testing.T) {
	asked := 0
	ask := func(v string, err error) func() (string, error) {
		return func() (string, error) { asked++; return v, err }
	}
	tests := []struct {
		name            string
		cands           []Candidate
		version, source string
		asked           int
	}{
		{"flag first, nothing asked", []Candidate{{Source: "flag", Version: "24.0", Explicit: true}, {Source: "new", Ask: ask("25.0.1", nil)}}, "24.0", "flag", 0},
		{"bad flag kept for the report", []Candidate{{Source: "flag", Version: "banana", Explicit: true}, {Source: "new", Version: "25.0.1"}}, "banana", "flag", 0},
		{"empty flag skipped", []Candidate{{Source: "flag", Explicit: true}, {Source: "new", Ask: ask("25.0.1", nil)}}, "25.0.1", "new", 1},
		{"new binary unknown: running daemon", []Candidate{{Source: "new", Ask: ask("", errors.New("no new binary"))}, {Source: "running", Ask: ask("20.10.24+dfsg1", nil)}}, "20.10.24+dfsg1", "running", 2},
		{"unparsable version skipped", []Candidate{{Source: "new", Version: "dev"}, {Source: "running", Version: "23.0.6"}}, "23.0.6", "running", 0},
		{"too old to have rules: default", []Candidate{{Source: "running", Version: "19.03"}, {Source: "default", Version: "20.10"}}, "20.10", "default", 0},
		{"none", []Candidate{{Source: "running", Ask: ask("", errors.New("down"))}}, "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = 0
			v, s := RulesFor(tt.cands...)
			if v != tt.version || s != tt.source || asked != tt.asked {
				t.Errorf("RulesFor = %q from %q after %d asks, want %q from %q after %d", v, s, asked, tt.version, tt.source, tt.asked)
			}
		})
	}
}
