package daemonjson

// Candidate is one source of the dockerd release whose rules judge a
// daemon.json (see RulesFor).
type Candidate struct {
	// Source says where the version comes from, for reports.
	Source string
	// Version is the version; when empty, Ask finds it (asked only when
	// no candidate before this one had a version).
	Version string
	Ask     func() (string, error)
	// Explicit marks a version the user gave: it is taken even when it
	// does not parse, so the mistake is reported rather than skipped.
	Explicit bool
}

// RulesFor picks the rule set for a daemon.json: the version of the first
// candidate, in the order given (an explicit flag, the new binary's
// version, the running daemon's, a default), that parses as a dockerd
// release, and its source. It returns "" (Validate's oldest rules, 20.10)
// and source "" when none does.
func RulesFor(cands ...Candidate) (version, source string) {
	for _, c := range cands {
		v := c.Version
		if v == "" && c.Ask != nil {
			var err error
			if v, err = c.Ask(); err != nil {
				continue
			}
		}
		if v == "" {
			continue
		}
		if _, err := ParseVersion(v); err == nil || c.Explicit {
			return v, c.Source
		}
	}
	return "", ""
}
