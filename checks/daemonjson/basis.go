package daemonjson

import "fmt"

// verified are the release lines whose rules were checked against real
// starts of a binary (testdata/corpus, verdicts-RELEASE.txt): the patch
// releases started.
var verified = map[Version]string{
	{20, 10}: "Debian's docker.io 20.10.5 and 20.10.24",
	{26, 1}:  "Debian's docker.io 26.1.5",
}

// Basis says how sure a rule set is: checked against real starts of that
// release line, or carried over from the nearest checked one with the
// differences read from moby's sources.
func Basis(v Version) string {
	if who, ok := verified[v]; ok {
		return fmt.Sprintf("dockerd %s rules, checked against real starts of %s on every corpus file (checks/daemonjson/testdata/corpus); other %s.x patch releases share the same config loader and are judged alike", v, who, v)
	}
	if !v.atLeast(23, 0) {
		return fmt.Sprintf("dockerd %s rules: the 20.10 rules", v)
	}
	near := "26.1 rules (checked against real starts of Debian's docker.io 26.1.5)"
	if v.less(Version{26, 1}) {
		return fmt.Sprintf("dockerd %s rules: the %s, with the differences between %s and 26.1 read from moby's sources (keys added and removed, value checks); no binary of %s was started here: likely, not proven", v, near, v, v)
	}
	return fmt.Sprintf("dockerd %s rules: the %s, with the changes after 26.1 read from moby's sources (27: TLS required on TCP, IPv6 bridge subnet optional; 28: exec-opts, api-cors-header, network keys); no binary of %s was started here: the least sure of the rule sets", v, near, v)
}
