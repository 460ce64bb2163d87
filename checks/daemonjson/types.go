package daemonjson

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// typeError is a value whose JSON type does not decode into the Go type of
// its key; dockerd fails with "json: cannot unmarshal ...".
type typeError struct {
	at   *node
	path string
	want string
	msg  string // overrides the generic message
}

// types checks every occurrence of every decoded key (Go's decoder sees
// duplicates too), and flags keys dockerd accepts but never reads.
func (c *checker) types() {
	for _, m := range c.root.members {
		typ, isField := c.rs.fieldOf[m.key]
		if !isField {
			c.ignored(m)
			continue
		}
		if te := checkType(m.val, typ, m.key); te != nil {
			msg := te.msg
			if msg == "" {
				msg = fmt.Sprintf("%s is a JSON %s; dockerd needs %s", te.path, te.at.kind, te.want)
			}
			c.add(c.at(Finding{ID: IDType, Severity: Fail, Key: m.key,
				Message: fmt.Sprintf("key %q: %s (json: cannot unmarshal)", m.key, msg),
				Remedy:  typeRemedy(m.key, typ, te)}, te.at.off))
		}
	}
	c.ok(IDType, "every value has the type dockerd expects")
}

// ignored reports a top-level key that passes dockerd's key check (it is a
// flag name, or an object whose members are) but has no field: dockerd
// starts and the setting has no effect.
func (c *checker) ignored(m member) {
	if !c.rs.known(m.key) && (m.val.kind != kObject || c.rs.flat(m.key)) {
		return // reported as unknown
	}
	if m.val.kind == kObject && !c.rs.flat(m.key) && !c.rs.known(m.key) && !c.innerKnown(m.val) {
		return // its unknown members are reported
	}
	if _, skip := skipUnknown[m.key]; skip {
		if m.key == "allow-nondistributable-artifacts" {
			c.add(c.at(Finding{ID: IDDeprecated, Severity: Warn, Key: m.key,
				Message: fmt.Sprintf("key %q is deprecated and ignored by dockerd %s", m.key, c.rs.v),
				Remedy:  "remove the key"}, m.keyOff))
		}
		return
	}
	remedy := "remove the key"
	if f := c.rs.flagByKey[m.key]; f != nil && f.named != "" && f.name == m.key {
		remedy = fmt.Sprintf("rename it to %q (the file uses the plural key, the flag the singular)", f.named)
	} else if strings.HasSuffix(m.key, "-proxy") && c.modern() {
		remedy = fmt.Sprintf(`move it into "proxies": {"%s": ...}`, m.key)
	} else if m.key == "containerd-plugins-namespace" {
		remedy = `the file key is "containerd-plugin-namespace" (dockerd 20.10 does not accept it in the file; pass --containerd-plugins-namespace instead)`
	}
	msg := fmt.Sprintf("key %q is accepted by dockerd %s but has no effect: it is a command-line flag name, not a configuration file key", m.key, c.rs.v)
	if m.val.kind == kObject && !c.rs.known(m.key) {
		msg = fmt.Sprintf("key %q is not an option of dockerd %s; it starts because the members of %q are read as top-level keys, and ignores the setting", m.key, c.rs.v, m.key)
	}
	c.add(c.at(Finding{ID: IDIgnored, Severity: Warn, Key: m.key, Message: msg, Remedy: remedy}, m.keyOff))
}

func typeRemedy(key string, typ fieldType, te *typeError) string {
	switch {
	case typ == tStringMap && te.at.kind == kNumber:
		return fmt.Sprintf("quote the number: every value in %q is a string, e.g. \"max-file\": \"3\"", key)
	case typ == tStringMap && te.at.kind == kBool:
		return fmt.Sprintf("quote the value: every value in %q is a string, e.g. \"compress\": \"true\"", key)
	case (typ == tBool || typ == tBoolPtr) && te.at.kind == kString:
		return fmt.Sprintf("write %s without quotes", te.at.str)
	case (typ == tInt || typ == tInt64 || typ == tUint32) && te.at.kind == kString:
		return "write the number without quotes"
	case typ == tStrings && te.at.kind == kString:
		return fmt.Sprintf("make it a list: %q: [%q]", key, te.at.str)
	}
	return fmt.Sprintf("make %s %s", te.path, te.want)
}

func isNull(n *node) bool { return n == nil || n.kind == kNull }

// checkType follows encoding/json: null decodes into anything (except a few
// custom decoders), numbers into integers must be integral and in range.
func checkType(n *node, typ fieldType, path string) *typeError {
	if isNull(n) && typ != tMemBytes {
		return nil
	}
	want := typeNames[typ]
	bad := func() *typeError { return &typeError{at: n, path: path, want: want} }
	switch typ {
	case tBool, tBoolPtr:
		if n.kind != kBool {
			return bad()
		}
	case tString:
		if n.kind != kString {
			return bad()
		}
	case tInt, tInt64:
		return checkInt(n, path, want, false)
	case tUint32:
		return checkInt(n, path, want, true)
	case tStrings:
		if n.kind != kArray {
			return bad()
		}
		for i, e := range n.elems {
			if !isNull(e) && e.kind != kString {
				return &typeError{at: e, path: fmt.Sprintf("%s[%d]", path, i), want: "a string"}
			}
		}
	case tStringMap:
		if n.kind != kObject {
			return bad()
		}
		for _, m := range n.members {
			if !isNull(m.val) && m.val.kind != kString {
				return &typeError{at: m.val, path: path + "." + m.key, want: "a string"}
			}
		}
	case tIP:
		if n.kind != kString {
			return bad()
		}
		if n.str != "" && net.ParseIP(n.str) == nil {
			return &typeError{at: n, path: path, msg: fmt.Sprintf("invalid IP address: %s", n.str)}
		}
	case tIPs:
		if n.kind != kArray {
			return bad()
		}
		for i, e := range n.elems {
			if isNull(e) {
				continue
			}
			p := fmt.Sprintf("%s[%d]", path, i)
			if e.kind != kString {
				return &typeError{at: e, path: p, want: "an IP address string"}
			}
			if _, err := netip.ParseAddr(e.str); e.str != "" && err != nil {
				return &typeError{at: e, path: p, msg: fmt.Sprintf("%s is not an IP address", e.str)}
			}
		}
	case tMemBytes:
		// dockerd's MemBytes decoder takes a non-empty string only (null too
		// is refused: "invalid size").
		if n.kind != kString || n.str == "" {
			return &typeError{at: n, path: path, msg: fmt.Sprintf("invalid size: %s is not a size string like \"64M\"", describe(n))}
		}
		if _, err := ramInBytes(n.str); err != nil {
			return &typeError{at: n, path: path, msg: fmt.Sprintf("invalid size: '%s'", n.str)}
		}
	case tPools:
		if n.kind != kArray {
			return bad()
		}
		for i, e := range n.elems {
			p := fmt.Sprintf("%s[%d]", path, i)
			if isNull(e) {
				continue
			}
			if e.kind != kObject {
				return &typeError{at: e, path: p, want: `an object {"base": "CIDR", "size": N}`}
			}
			if te := checkStruct(e, p, map[string]fieldType{"base": tString, "size": tInt}); te != nil {
				return te
			}
		}
	case tUlimits:
		if n.kind != kObject {
			return bad()
		}
		for _, m := range n.members {
			p := path + "." + m.key
			if isNull(m.val) {
				continue
			}
			if m.val.kind != kObject {
				return &typeError{at: m.val, path: p, want: `an object {"Name": "nofile", "Soft": N, "Hard": N}`}
			}
			if te := checkStruct(m.val, p, map[string]fieldType{"Name": tString, "Hard": tInt64, "Soft": tInt64}); te != nil {
				return te
			}
		}
	case tRuntimes:
		if n.kind != kObject {
			return bad()
		}
		for _, m := range n.members {
			p := path + "." + m.key
			if isNull(m.val) {
				continue
			}
			if m.val.kind != kObject {
				return &typeError{at: m.val, path: p, want: `an object {"path": "/usr/bin/runtime"}`}
			}
			if te := checkStruct(m.val, p, map[string]fieldType{"path": tString, "runtimeArgs": tStrings}); te != nil {
				return te
			}
		}
	case tFeatures:
		if n.kind != kObject {
			return bad()
		}
		for _, m := range n.members {
			if !isNull(m.val) && m.val.kind != kBool {
				return &typeError{at: m.val, path: path + "." + m.key, want: "true or false"}
			}
		}
	case tNetOpts:
		if n.kind != kObject {
			return bad()
		}
		for _, m := range n.members {
			if te := checkType(m.val, tStringMap, path+"."+m.key); te != nil {
				return te
			}
		}
	case tProxies:
		if n.kind != kObject {
			return bad()
		}
		return checkStruct(n, path, map[string]fieldType{"http-proxy": tString, "https-proxy": tString, "no-proxy": tString})
	case tBuilder:
		return checkBuilder(n, path)
	}
	return nil
}

func describe(n *node) string {
	switch n.kind {
	case kString:
		return strconv.Quote(n.str)
	case kNumber:
		return n.str
	}
	return n.kind.String()
}

func checkInt(n *node, path, want string, unsigned bool) *typeError {
	if n.kind != kNumber {
		return &typeError{at: n, path: path, want: want}
	}
	var err error
	if unsigned {
		_, err = strconv.ParseUint(n.str, 10, 32)
	} else {
		_, err = strconv.ParseInt(n.str, 10, 64)
	}
	if err != nil {
		return &typeError{at: n, path: path, msg: fmt.Sprintf("%s is the number %s; dockerd needs %s", path, n.str, want)}
	}
	return nil
}

// checkStruct checks the members of an object that decodes into a Go
// struct: names match case-insensitively, unknown members are ignored.
func checkStruct(n *node, path string, fieldsOf map[string]fieldType) *typeError {
	for _, m := range n.members {
		for name, typ := range fieldsOf {
			if strings.EqualFold(name, m.key) {
				if te := checkType(m.val, typ, path+"."+m.key); te != nil {
					return te
				}
			}
		}
	}
	return nil
}

// checkBuilder checks the "builder" object. A GC policy filter written as a
// string without "=" makes dockerd 20.10 crash while decoding.
func checkBuilder(n *node, path string) *typeError {
	if n.kind != kObject {
		return &typeError{at: n, path: path, want: typeNames[tBuilder]}
	}
	for _, m := range n.members {
		p := path + "." + m.key
		switch {
		case strings.EqualFold(m.key, "gc"):
			if isNull(m.val) {
				continue
			}
			if m.val.kind != kObject {
				return &typeError{at: m.val, path: p, want: "an object"}
			}
			if te := checkStruct(m.val, p, map[string]fieldType{"Enabled": tBool, "DefaultKeepStorage": tString}); te != nil {
				return te
			}
			for _, gm := range m.val.members {
				if !strings.EqualFold(gm.key, "policy") || isNull(gm.val) {
					continue
				}
				if gm.val.kind != kArray {
					return &typeError{at: gm.val, path: p + "." + gm.key, want: "an array of rules"}
				}
				for i, rule := range gm.val.elems {
					rp := fmt.Sprintf("%s.%s[%d]", p, gm.key, i)
					if isNull(rule) {
						continue
					}
					if rule.kind != kObject {
						return &typeError{at: rule, path: rp, want: "an object"}
					}
					if te := checkStruct(rule, rp, map[string]fieldType{"All": tBool, "KeepStorage": tString}); te != nil {
						return te
					}
					for _, rm := range rule.members {
						if strings.EqualFold(rm.key, "filter") && rm.val.kind == kArray {
							for _, f := range rm.val.elems {
								if f.kind == kString && !strings.Contains(f.str, "=") {
									return &typeError{at: f, path: rp + ".filter", msg: fmt.Sprintf("filter %q has no \"=\": dockerd crashes decoding it", f.str)}
								}
							}
						}
					}
				}
			}
		case strings.EqualFold(m.key, "entitlements"):
			if isNull(m.val) {
				continue
			}
			if m.val.kind != kObject {
				return &typeError{at: m.val, path: p, want: "an object"}
			}
			if te := checkStruct(m.val, p, map[string]fieldType{"network-host": tBool, "security-insecure": tBool}); te != nil {
				return te
			}
		}
	}
	return nil
}

// ramInBytes parses sizes the way docker/go-units RAMInBytes does
// ("64m", "1.5GiB", "1024"): binary multipliers.
func ramInBytes(s string) (int64, error) {
	return parseSize(s, 1024)
}

// fromHumanSize parses sizes with decimal multipliers (json-file max-size).
func fromHumanSize(s string) (int64, error) {
	return parseSize(s, 1000)
}

func parseSize(s string, base float64) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	if num == "" || strings.Count(num, ".") > 1 || strings.HasSuffix(num, ".") {
		return 0, fmt.Errorf("invalid size: '%s'", orig)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size: '%s'", orig)
	}
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "b"), "i")
	mult := map[string]int{"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
	e, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size: '%s'", orig)
	}
	for ; e > 0; e-- {
		f *= base
	}
	return int64(f), nil
}
