package checks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
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

// VersionPolicy decides whether a daemon may go from version `from` (the
// running one) to `to` (the new binary) with live restore. Docker documents
// live restore across patch releases only, so by default anything but a
// patch step (or the same version, a re-install) fails; allowMinor and
// allowDowngrade turn the matching failure into a warning. A downgrade to
// an older minor release needs both.
func VersionPolicy(from, to string, allowMinor, allowDowngrade bool) Result {
	const skipHint = "or --skip version.policy if you have checked the versions yourself"
	f, err := ParseVersion(from)
	if err != nil {
		return fail("make sure the endpoint is the daemon being upgraded, "+skipHint, "running version: %v", err)
	}
	t, err := ParseVersion(to)
	if err != nil {
		return fail("build the new binary with a release version, "+skipHint, "new version: %v", err)
	}
	sameMinor := f.Major == t.Major && f.Minor == t.Minor
	step := fmt.Sprintf("%s -> %s", from, to)
	switch c := t.Compare(f); {
	case c == 0 && f.Build == t.Build:
		return ok("%s: same version (re-install)", step)
	case c == 0:
		return ok("%s: same release, other build (re-install)", step)
	case c > 0 && sameMinor:
		return ok("%s: patch upgrade", step)
	case c > 0:
		kind := "minor"
		if f.Major != t.Major {
			kind = "major"
		}
		msg := fmt.Sprintf("%s: %s upgrade; Docker supports live restore across patch releases only: containers may be left unmanaged", step, kind)
		if allowMinor {
			return warn("", "%s (allowed by --allow-minor)", msg)
		}
		return fail(fmt.Sprintf("upgrade to the newest %d.%d.x first, then step one release at a time with --allow-minor after a test on a similar host", f.Major, f.Minor), "%s", msg)
	}
	// Downgrade.
	msg := step + ": downgrade"
	if !sameMinor {
		msg += " to an older release; live restore is supported across patch releases only"
	}
	switch {
	case allowDowngrade && (sameMinor || allowMinor):
		flags := "--allow-downgrade"
		if !sameMinor {
			flags += " --allow-minor"
		}
		return warn("", "%s (allowed by %s)", msg, flags)
	case allowDowngrade:
		return fail("add --allow-minor as well if you mean it", "%s", msg)
	}
	remedy := "check --new-binary; if the downgrade is intended, pass --allow-downgrade"
	if !sameMinor {
		remedy += " --allow-minor"
	}
	return fail(remedy, "%s", msg)
}
