package daemonjson

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// setFlag is a flag given on dockerd's command line.
type setFlag struct {
	def   *flagDef
	given string // as written: --host, -H
	value string
}

// parseExecStart reads dockerd's flags from the command line the way pflag
// does: --name value, --name=value, -X value, -Xvalue, -DX (bool
// shorthands combined). The first word is the binary and is skipped when
// it does not start with a dash.
func (c *checker) parseExecStart() []setFlag {
	args := c.opts.ExecStart
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	var out []setFlag
	unknown := func(a string) {
		c.add(Finding{ID: IDExecStart, Severity: Fail, Key: strings.TrimLeft(a, "-"),
			Message: fmt.Sprintf("ExecStart passes %s, which dockerd %s does not know: it exits with \"unknown flag\"", a, c.rs.v),
			Remedy:  "remove the flag from the unit's ExecStart (or move the setting into the file under its documented key)"})
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return out
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			f := c.rs.flagNames[name]
			if f == nil || len(name) == 1 {
				unknown(a)
				continue
			}
			if !hasVal && !f.bool && i+1 < len(args) {
				i++
				val = args[i]
			}
			if !hasVal && f.bool {
				val = "true"
			}
			out = append(out, setFlag{def: f, given: "--" + name, value: val})
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// Shorthands: bool ones may be combined; a value one takes the
			// rest of the word or the next argument.
			s := a[1:]
			for len(s) > 0 {
				name := s[:1]
				s = s[1:]
				f := c.rs.flagNames[name]
				if f == nil || f.short != name {
					unknown("-" + name)
					break
				}
				if f.bool {
					val := "true"
					if strings.HasPrefix(s, "=") {
						val, s = s[1:], ""
					}
					out = append(out, setFlag{def: f, given: "-" + name, value: val})
					continue
				}
				val := strings.TrimPrefix(s, "=")
				if s == "" && i+1 < len(args) {
					i++
					val = args[i]
				}
				out = append(out, setFlag{def: f, given: "-" + name, value: val})
				s = ""
			}
		default:
			c.add(Finding{ID: IDExecStart, Severity: Fail,
				Message: fmt.Sprintf("ExecStart passes the argument %q; dockerd accepts no arguments and exits", a),
				Remedy:  "remove the stray argument from ExecStart"})
		}
	}
	return out
}

// flag returns the last value of a flag given on the command line.
func (c *checker) flag(name string) (string, bool) {
	var val string
	var ok bool
	for _, f := range c.flags {
		if f.def.name == name {
			val, ok = f.value, true
		}
	}
	return val, ok
}

// flagValues returns every value of a repeatable flag.
func (c *checker) flagValues(name string) []string {
	var out []string
	for _, f := range c.flags {
		if f.def.name == name {
			out = append(out, f.value)
		}
	}
	return out
}

// conflicts mirrors findConfigurationConflicts: a changed flag conflicts
// with the file when the file sets its named-option key (hosts for -H),
// or its long or short name; runtimes merge instead.
func (c *checker) conflicts() {
	set := map[string]directive{}
	for _, d := range c.dirs {
		set[d.key] = d
	}
	done := map[string]bool{}
	for _, f := range c.flags {
		names := []string{f.def.name, f.def.short}
		if f.def.named != "" {
			names = []string{f.def.named}
		}
		for _, n := range names {
			d, ok := set[n]
			if n == "" || !ok || n == "runtimes" || done[n] {
				continue
			}
			done[n] = true
			c.add(c.at(Finding{ID: IDConflict, Severity: Fail, Key: n,
				Message: fmt.Sprintf("%q is set in the file and by %s in ExecStart: dockerd refuses to start (the following directives are specified both as a flag and in the configuration file)", n, f.given),
				Remedy:  fmt.Sprintf("keep one: remove %s from the unit's ExecStart (systemctl edit docker, then daemon-reload) or remove %q from the file", f.given, n)}, d.off))
			break
		}
	}
	if len(c.opts.ExecStart) > 0 {
		c.ok(IDConflict, "no key is also set as a flag in ExecStart")
	}
}

// suggest proposes a known key close to an unknown one.
func suggest(key string, rs *ruleSet) string {
	norm := normalizeKey(key)
	keys := rs.allKeys()
	sort.Strings(keys)
	for _, k := range keys {
		if k == norm {
			return preferNamed(k, rs)
		}
	}
	best, bestD := "", 3
	if len(norm) <= 4 {
		bestD = 2
	}
	for _, k := range keys {
		if diff := len(norm) - len(k); diff >= bestD || -diff >= bestD {
			continue // the distance is at least the length difference
		}
		if d := levenshtein(norm, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		// A dotted or path-like key often is a nested setting.
		if base := filepath.Base(norm); base != norm {
			return suggest(base, rs)
		}
		return ""
	}
	return preferNamed(best, rs)
}

// preferNamed turns a flag name into the file key (log-opt -> log-opts).
func preferNamed(k string, rs *ruleSet) string {
	if f := rs.flagByKey[k]; f != nil && f.named != "" && f.name == k {
		return f.named
	}
	return k
}

// normalizeKey maps live_restore, liveRestore, "Live-Restore " to
// live-restore.
func normalizeKey(s string) string {
	var b strings.Builder
	rs := []rune(strings.TrimSpace(s))
	for i, r := range rs {
		switch {
		case r == '_' || r == ' ' || r == '.':
			b.WriteByte('-')
		case unicode.IsUpper(r):
			if i > 0 && unicode.IsLower(rs[i-1]) {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
