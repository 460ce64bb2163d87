// Package daemonjson judges a Docker daemon.json the way dockerd does when
// it starts: the JSON decoding of the release that will read it, the keys
// that release accepts, the Go types they decode into, the values its
// config validation and daemon start-up refuse, keys set both in the file
// and as a command-line flag, and live-restore's interplay with swarm mode.
//
// Two families of rules are encoded, selected by Options.DockerVersion:
// dockerd 20.10 and the releases after it (23 up to 28), whose config
// loader changed (BOM and empty-file handling, strict trailing data, keys
// removed and added). The rules were read from moby's daemon/config and
// cmd/dockerd sources of each release; the 20.10 verdicts are checked
// against the real dockerd 20.10.24 in testdata/corpus.
package daemonjson

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Severity grades a finding.
type Severity string

// Severities, from best to worst.
const (
	OK   Severity = "ok"
	Warn Severity = "warn"
	Fail Severity = "fail"
)

// Finding is one verdict about the file. ID is stable and can be matched by
// callers (for example to skip a check).
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Key      string   `json:"key,omitempty"`
	Line     int      `json:"line,omitempty"`
	Col      int      `json:"col,omitempty"`
	Message  string   `json:"message"`
	Remedy   string   `json:"remedy,omitempty"`
	// Strict marks a warning turned into a failure by strict mode: dockerd
	// itself would still start.
	Strict bool `json:"strict,omitempty"`

	off int // byte offset + 1 of the position, resolved when added
}

// Location renders file:line:col (or the parts that are known).
func (f Finding) Location(file string) string {
	switch {
	case f.Line > 0 && f.Col > 0:
		return fmt.Sprintf("%s:%d:%d", file, f.Line, f.Col)
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", file, f.Line)
	default:
		return file
	}
}

// KeyInfo describes one top-level key of the file.
type KeyInfo struct {
	Name string `json:"name"`
	// Known is false for keys the release refuses.
	Known bool `json:"known"`
	// Reloadable keys are applied by a running dockerd on SIGHUP
	// (systemctl reload docker); the others need a restart.
	Reloadable bool `json:"reloadable"`
}

// Report is the outcome of Validate.
type Report struct {
	File          string `json:"file"`
	DockerVersion string `json:"dockerVersion"`
	// RulesBasis says how sure the rule set is (Basis).
	RulesBasis string    `json:"rulesBasis"`
	Findings   []Finding `json:"findings"`
	Keys       []KeyInfo `json:"keys"`
}

// Starts reports whether dockerd would start with the file: no failure
// other than those strict mode added.
func (r *Report) Starts() bool {
	for _, f := range r.Findings {
		if f.Severity == Fail && !f.Strict {
			return false
		}
	}
	return true
}

// Passed reports whether nothing failed, strict failures included.
func (r *Report) Passed() bool {
	for _, f := range r.Findings {
		if f.Severity == Fail {
			return false
		}
	}
	return true
}

// Worst returns the worst severity among the findings.
func (r *Report) Worst() Severity {
	w := OK
	for _, f := range r.Findings {
		switch {
		case f.Severity == Fail:
			return Fail
		case f.Severity == Warn:
			w = Warn
		}
	}
	return w
}

// Options say how the file will be used.
type Options struct {
	// File is the path shown in messages.
	File string
	// DockerVersion selects the rule set ("20.10", "24.0.7", ...); empty
	// means 20.10.
	DockerVersion string
	// ExecStart is the daemon's command line (binary first); flags that are
	// also keys of the file make dockerd refuse to start.
	ExecStart []string
	// Swarm says the node is part of a swarm (live-restore is refused then).
	Swarm bool
	// Strict turns upgrade-safety warnings (live-restore) into failures.
	Strict bool
}

// Finding IDs.
const (
	IDVersion       = "daemon-json.docker-version"
	IDEncoding      = "daemon-json.encoding"
	IDSyntax        = "daemon-json.syntax"
	IDEmpty         = "daemon-json.empty"
	IDTrailing      = "daemon-json.trailing-data"
	IDTopLevel      = "daemon-json.top-level"
	IDDuplicate     = "daemon-json.duplicate-key"
	IDUnknown       = "daemon-json.unknown-key"
	IDIgnored       = "daemon-json.ignored-key"
	IDType          = "daemon-json.type"
	IDValue         = "daemon-json.value"
	IDDeprecated    = "daemon-json.deprecated"
	IDConflict      = "daemon-json.flag-conflict"
	IDExecStart     = "daemon-json.exec-start"
	IDLiveRestore   = "daemon-json.live-restore"
	IDSwarm         = "daemon-json.swarm"
	IDUpgradeCompat = "daemon-json.upgrade-compat"
	// IDInsecureTCP: "hosts" listens on TCP without TLS client
	// verification (anyone who reaches the port is root on the host).
	IDInsecureTCP = "daemon-json.insecure-tcp"
	// IDValid is the verdict on the whole file when the daemon's binary
	// judges it (Binary.Validate), not these rules.
	IDValid = "daemon-json.valid"
)

// checker holds the state of one validation.
type checker struct {
	data   []byte // the text parsed (after BOM handling)
	rs     *ruleSet
	opts   Options
	r      *Report
	root   *node
	dirs   []directive
	flags  []setFlag
	failed map[string]bool // IDs that failed, to keep later checks quiet

	// A pathological file (thousands of bad keys) must not produce
	// thousands of findings or quadratic work: each ID is shown
	// maxPerID times, the rest counted.
	count      map[string]int
	suppressed map[string]int
	lines      []int // offsets where lines start, built on first use
}

const maxPerID = 20

// directive is a key dockerd checks against its flags: a top-level key, or
// a member of a non-flat object value.
type directive struct {
	key   string
	off   int
	val   *node
	outer string // the top-level key it was flattened from
}

// Validate judges data as a daemon.json for the release in opts.
func Validate(data []byte, opts Options) *Report {
	v := V2010
	r := &Report{File: opts.File}
	if opts.DockerVersion != "" {
		pv, err := ParseVersion(opts.DockerVersion)
		if err != nil {
			r.DockerVersion = opts.DockerVersion
			r.Findings = append(r.Findings, Finding{ID: IDVersion, Severity: Fail, Message: err.Error(),
				Remedy: "pass a dockerd version such as 20.10 or 24.0"})
			return r
		}
		v = pv
	}
	if Current.less(v) {
		v = Current
	}
	r.DockerVersion, r.RulesBasis = v.String(), Basis(v)
	c := newChecker(v, opts, r)
	c.run(data)
	c.summarize()

	// A file that 20.10 accepts can stop a newer dockerd from starting:
	// say so before an upgrade finds out.
	if !v.atLeast(23, 0) && r.Starts() {
		shadow := newChecker(Current, Options{File: opts.File, ExecStart: opts.ExecStart}, &Report{})
		shadow.run(data)
		for _, f := range shadow.r.Findings {
			// insecure-tcp says itself from which release on it is refused.
			if f.Severity != Fail || f.ID == IDInsecureTCP {
				continue
			}
			f.Message = fmt.Sprintf("dockerd 23 and newer refuse this (checked against %s rules): %s", Current, f.Message)
			f.ID, f.Severity = IDUpgradeCompat, Warn
			r.Findings = append(r.Findings, f)
		}
	}
	return r
}

func newChecker(v Version, opts Options, r *Report) *checker {
	return &checker{rs: newRuleSet(v), opts: opts, r: r, failed: map[string]bool{}, count: map[string]int{}, suppressed: map[string]int{}}
}

func (c *checker) add(f Finding) {
	if f.Severity == Fail {
		c.failed[f.ID] = true
	}
	if !c.room(f.ID) {
		c.suppressed[f.ID]++
		return
	}
	c.count[f.ID]++
	if f.off > 0 {
		f.Line, f.Col = c.position(f.off - 1)
		f.off = 0
	}
	c.r.Findings = append(c.r.Findings, f)
}

// room reports whether another finding with this ID will be shown.
func (c *checker) room(id string) bool { return c.count[id] < maxPerID }

// summarize adds one finding per ID that had findings left out.
func (c *checker) summarize() {
	ids := make([]string, 0, len(c.suppressed))
	for id := range c.suppressed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sev := Warn
		if c.failed[id] {
			sev = Fail
		}
		c.r.Findings = append(c.r.Findings, Finding{ID: id, Severity: sev,
			Message: fmt.Sprintf("%d more findings of this kind are not shown", c.suppressed[id]),
			Remedy:  "fix the ones shown and validate again"})
	}
}

// at records the byte offset a finding points at; add resolves it.
func (c *checker) at(f Finding, off int) Finding {
	f.off = off + 1
	return f
}

// position converts a byte offset of the parsed text into line:col.
func (c *checker) position(off int) (int, int) {
	if c.lines == nil {
		c.lines = []int{0}
		for i, b := range c.data {
			if b == '\n' {
				c.lines = append(c.lines, i+1)
			}
		}
	}
	if off > len(c.data) {
		off = len(c.data)
	}
	line := sort.SearchInts(c.lines, off+1) - 1
	start := c.lines[line]
	if off-start > 1<<16 {
		// Counting characters on a huge line is not worth it.
		return line + 1, off - start + 1
	}
	return line + 1, utf8.RuneCount(c.data[start:off]) + 1
}

func (c *checker) ok(id, msg string) {
	if !c.failed[id] && !c.has(id) {
		c.r.Findings = append(c.r.Findings, Finding{ID: id, Severity: OK, Message: msg})
	}
}

func (c *checker) has(id string) bool {
	for _, f := range c.r.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

func (c *checker) modern() bool { return c.rs.v.atLeast(23, 0) }

func (c *checker) run(data []byte) {
	c.flags = c.parseExecStart()
	text, ok := c.decodeText(data)
	if !ok {
		return
	}
	c.data = text
	if len(strings.TrimSpace(string(text))) == 0 {
		c.emptyFile(data)
		return
	}
	root, end, err := parseValue(text)
	if err != nil {
		se := err.(*syntaxError)
		c.add(c.at(Finding{ID: IDSyntax, Severity: Fail,
			Message: "invalid JSON: " + se.msg,
			Remedy:  syntaxRemedy(text, se)}, se.off))
		return
	}
	c.trailing(end)
	if c.failed[IDTrailing] {
		return
	}
	c.ok(IDSyntax, "valid JSON")
	switch root.kind {
	case kNull:
		c.add(c.at(Finding{ID: IDTopLevel, Severity: Warn, Message: "the file is null: dockerd starts with its defaults",
			Remedy: "write a JSON object, e.g. {\"live-restore\": true}"}, root.off))
	case kObject:
	default:
		c.add(c.at(Finding{ID: IDTopLevel, Severity: Fail,
			Message: fmt.Sprintf("the top level is a JSON %s; dockerd needs an object (json: cannot unmarshal %s into Go value of type map[string]interface {})", root.kind, goKind(root.kind)),
			Remedy:  `wrap the settings in one object: {"key": value, ...}`}, root.off))
		return
	}
	c.root = root
	c.duplicates(root)
	c.flatten()
	c.unknownKeys()
	c.conflicts()
	c.types()
	c.values()
	c.upgradeSafety()
	c.keyInfo()
}

func goKind(k kind) string {
	switch k {
	case kBool:
		return "bool"
	}
	return k.String()
}

// emptyFile: 20.10 fails with EOF; 23 and newer start with the defaults.
func (c *checker) emptyFile(raw []byte) {
	if !c.modern() {
		c.add(Finding{ID: IDSyntax, Severity: Fail, Line: 1, Col: 1,
			Message: "the file is empty: dockerd 20.10 fails to decode it (EOF)",
			Remedy:  `write {} (or the settings you need, e.g. {"live-restore": true}), or remove the file`})
		return
	}
	c.add(Finding{ID: IDEmpty, Severity: Warn, Line: 1, Col: 1,
		Message: "the file is empty: dockerd starts with its defaults",
		Remedy:  `write the settings you mean, e.g. {"live-restore": true}`})
	c.root = &node{kind: kObject}
	c.upgradeSafety()
}

func (c *checker) trailing(end int) {
	rest := end
	for rest < len(c.data) && strings.IndexByte(" \t\r\n", c.data[rest]) >= 0 {
		rest++
	}
	if rest >= len(c.data) {
		return
	}
	if c.modern() {
		c.add(c.at(Finding{ID: IDTrailing, Severity: Fail,
			Message: fmt.Sprintf("invalid JSON: invalid character %s after top-level value", quoteChar(c.data[rest])),
			Remedy:  "keep exactly one JSON object in the file; merge or delete what follows it"}, rest))
		return
	}
	c.add(c.at(Finding{ID: IDTrailing, Severity: Warn,
		Message: "text after the first JSON value: dockerd 20.10 ignores it silently, dockerd 23 and newer refuse the file",
		Remedy:  "keep exactly one JSON object in the file; merge or delete what follows it"}, rest))
}

func (c *checker) duplicates(n *node) {
	switch n.kind {
	case kObject:
		seen := map[string]bool{}
		for _, m := range n.members {
			if seen[m.key] {
				c.add(c.at(Finding{ID: IDDuplicate, Severity: Warn, Key: m.key,
					Message: fmt.Sprintf("key %q appears more than once; dockerd silently uses the last value", m.key),
					Remedy:  "keep a single entry for the key"}, m.keyOff))
			}
			seen[m.key] = true
			c.duplicates(m.val)
		}
	case kArray:
		for _, e := range n.elems {
			c.duplicates(e)
		}
	}
}

// flatten mirrors dockerd's configValuesSet: members of an object value
// are checked as top-level directives unless the key is a flat map.
func (c *checker) flatten() {
	for _, m := range c.root.members {
		if m.val.kind == kObject && !c.rs.flat(m.key) {
			for _, in := range m.val.members {
				c.dirs = append(c.dirs, directive{key: in.key, off: in.keyOff, val: in.val, outer: m.key})
			}
			continue
		}
		c.dirs = append(c.dirs, directive{key: m.key, off: m.keyOff, val: m.val})
	}
}

func (c *checker) unknownKeys() {
	reported := map[string]bool{}
	for _, d := range c.dirs {
		if c.rs.known(d.key) || reported[d.key] {
			continue
		}
		reported[d.key] = true
		if !c.room(IDUnknown) {
			c.add(Finding{ID: IDUnknown, Severity: Fail, Key: d.key, Message: "unknown key"})
			continue
		}
		msg := fmt.Sprintf("unknown key %q: dockerd %s refuses the file (the following directives don't match any configuration option)", d.key, c.rs.v)
		if d.outer != "" {
			msg = fmt.Sprintf("unknown key %q inside %q: dockerd %s reads the members of %q as top-level keys and refuses it", d.key, d.outer, c.rs.v, d.outer)
		}
		if rel := otherReleases(d.key); rel != "" {
			msg += "; the key exists in " + rel
		}
		remedy := "remove the key"
		if s := suggest(d.key, c.rs); s != "" {
			remedy = fmt.Sprintf("did you mean %q? rename the key", s)
		} else if d.key == "disable-legacy-registry" {
			remedy = "remove the key: v1 registries are gone and dockerd no longer knows it"
		}
		c.add(c.at(Finding{ID: IDUnknown, Severity: Fail, Key: d.key, Message: msg, Remedy: remedy}, d.off))
	}
	c.ok(IDUnknown, "every key is known to dockerd "+c.rs.v.String())
}

// keyInfo lists the file's top-level keys.
func (c *checker) keyInfo() {
	seen := map[string]bool{}
	for _, m := range c.root.members {
		if seen[m.key] {
			continue
		}
		seen[m.key] = true
		known := c.rs.known(m.key) || (m.val.kind == kObject && !c.rs.flat(m.key) && c.innerKnown(m.val))
		c.r.Keys = append(c.r.Keys, KeyInfo{Name: m.key, Known: known, Reloadable: known && c.rs.reloadable(m.key)})
	}
}

func (c *checker) innerKnown(n *node) bool {
	for _, m := range n.members {
		if !c.rs.known(m.key) {
			return false
		}
	}
	return true
}

// ReloadableKeys returns the keys a running dockerd of the given release
// applies on SIGHUP, sorted.
func ReloadableKeys(dockerVersion string) ([]string, error) {
	v := V2010
	if dockerVersion != "" {
		var err error
		if v, err = ParseVersion(dockerVersion); err != nil {
			return nil, err
		}
	}
	var out []string
	for k, s := range reloadable {
		if s.has(v) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}
