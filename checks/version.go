package checks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/liveswap/liveswap/plan"
)

// Version is a daemon version: Docker's 20.10.24+dfsg1 or 24.0.9,
// liveswapd's 1.2.3, a pre-release such as 25.0.0-rc.1 or Debian's
// 1.6.20~ds1.
type Version struct {
	Major, Minor, Patch int
	Pre                 string // after - or ~
	Build               string // after +, ignored when comparing
	Raw                 string
}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-~]([0-9A-Za-z.~-]+))?(?:\+([0-9A-Za-z.+~-]+))?$`)

// ParseVersion parses one version string.
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a version (want MAJOR.MINOR.PATCH, e.g. 20.10.24 or 1.2.3)", s)
	}
	v := Version{Pre: m[4], Build: m[5], Raw: s}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

// String renders MAJOR.MINOR.PATCH[-PRE][+BUILD].
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare orders versions by semver precedence (build metadata ignored):
// -1, 0 or +1.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]int{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			return sign(d[0] - d[1])
		}
	}
	return comparePre(v.Pre, w.Pre)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// comparePre: a release sorts after its pre-releases; identifiers compare
// numerically when both are numbers, else as strings.
func comparePre(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return 1
	}
	if b == "" {
		return -1
	}
	as, bs := strings.FieldsFunc(a, isSep), strings.FieldsFunc(b, isSep)
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aerr := strconv.Atoi(as[i])
		bn, berr := strconv.Atoi(bs[i])
		switch {
		case aerr == nil && berr == nil:
			if an != bn {
				return sign(an - bn)
			}
		case aerr == nil:
			return -1
		case berr == nil:
			return 1
		default:
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
		}
	}
	return sign(len(as) - len(bs))
}

func isSep(r rune) bool { return r == '.' || r == '-' || r == '~' }

// versionToken finds a version in `--version` output.
var versionToken = regexp.MustCompile(`v?\d+\.\d+(?:\.\d+)?(?:[-~][0-9A-Za-z.~-]+)?(?:\+[0-9A-Za-z.+~-]+)?`)

// ExtractVersion finds the version in a binary's `--version` output:
// "Docker version 20.10.24+dfsg1, build 297e128" -> 20.10.24+dfsg1,
// "liveswapd version 1.2.3" -> 1.2.3, "runc version 1.1.5+ds1" -> 1.1.5+ds1.
// The word after "version" wins; else the first version-like token.
// It returns "" when there is none.
func ExtractVersion(out string) string {
	fields := strings.Fields(out)
	for i, f := range fields {
		if strings.EqualFold(f, "version") && i+1 < len(fields) {
			next := strings.TrimRight(fields[i+1], ",;")
			if _, err := ParseVersion(next); err == nil {
				return next
			}
		}
	}
	for _, f := range fields {
		f = strings.TrimRight(f, ",;")
		if m := versionToken.FindString(f); m == f {
			return m
		}
	}
	return ""
}

// Allow holds the operator's consent to version steps beyond the daemon's
// documented path.
type Allow struct {
	Minor, Major, Downgrade bool
}

// VersionPolicy decides whether a daemon may go from version `from` (the
// running one) to `to` (the new binary) with live restore. A patch step or
// a re-install always may; a one-minor step may when the daemon's project
// documents it (rules.MinorStep). Beyond that, --allow-minor admits a
// minor jump, --allow-major a major one (with rules.MajorNote), and a
// downgrade needs --allow-downgrade plus the flag of its size; each
// admitted step is a warning.
func VersionPolicy(from, to string, rules plan.VersionRules, allow Allow) Result {
	const skipHint = "or --skip version.policy if you have checked the versions yourself"
	f, err := ParseVersion(from)
	if err != nil {
		return fail("make sure the endpoint is the daemon being upgraded, "+skipHint, "running version: %v", err)
	}
	t, err := ParseVersion(to)
	if err != nil {
		return fail("build the new binary with a release version, "+skipHint, "new version: %v", err)
	}
	step := fmt.Sprintf("%s -> %s", from, to)
	c := t.Compare(f)
	switch {
	case c == 0 && f.Build == t.Build:
		return ok("%s: same version (re-install)", step)
	case c == 0:
		return ok("%s: same release, other build (re-install)", step)
	}
	// The size of the step, whichever way.
	lo, hi := f, t
	if c < 0 {
		lo, hi = t, f
	}
	size := "patch"
	switch {
	case lo.Major != hi.Major:
		size = "major"
	case lo.Minor != hi.Minor:
		size = "minor"
	}
	if c > 0 {
		switch {
		case size == "patch":
			return ok("%s: patch upgrade", step)
		case size == "minor" && rules.MinorStep && hi.Minor == lo.Minor+1:
			return ok("%s: one minor release, a step its project supports (%s)", step, rules.Source)
		}
		msg := fmt.Sprintf("%s: %s upgrade, beyond the documented path (%s)", step, size, rules.Source)
		switch {
		case size == "minor" && allow.Minor:
			return warn("", "%s (allowed by --allow-minor)", msg)
		case size == "major" && allow.Major:
			r := warn("", "%s (allowed by --allow-major)", msg)
			if rules.MajorNote != "" {
				r.Details = []string{rules.MajorNote}
			}
			return r
		case size == "minor":
			remedy := fmt.Sprintf("upgrade to the newest %d.%d.x first; to jump, pass --allow-minor after a test on a similar host", f.Major, f.Minor)
			if rules.MinorStep {
				remedy = fmt.Sprintf("step through %d.%d first, or pass --allow-minor after a test on a similar host", lo.Major, lo.Minor+1)
			}
			return fail(remedy, "%s", msg)
		}
		return fail("pass --allow-major after a test on a similar host (a Debian stable to the next is such a jump); --allow-minor does not admit it", "%s", msg)
	}
	// Downgrade.
	msg := step + ": downgrade"
	if size != "patch" {
		msg += fmt.Sprintf(" to an older %s release; live restore is documented across patch releases", size)
	}
	need := []string{"--allow-downgrade"}
	granted := allow.Downgrade
	switch size {
	case "minor":
		need, granted = append(need, "--allow-minor"), granted && allow.Minor
	case "major":
		need, granted = append(need, "--allow-major"), granted && allow.Major
	}
	flags := strings.Join(need, " ")
	if granted {
		r := warn("", "%s (allowed by %s)", msg, flags)
		if size == "major" && rules.MajorNote != "" {
			r.Details = []string{rules.MajorNote}
		}
		return r
	}
	return fail("check --new-binary; if the downgrade is intended, pass "+flags, "%s", msg)
}
