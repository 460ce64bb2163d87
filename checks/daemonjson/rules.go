package daemonjson

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Version is a dockerd release as major.minor; the rule set follows it.
type Version struct{ Major, Minor int }

// V2010 is the oldest rule set and the default when none is given.
var V2010 = Version{20, 10}

// Current is the newest release whose rules are encoded here.
var Current = Version{28, 5}

// Releases are the dockerd releases from 20.10 to Current: 21 and 22 were
// never released (22.06 was a beta that became 23.0), and 23 to 25 had one
// minor each. A version between them that is none of them is a mistake,
// not a rule set; one after Current is judged by Current's rules.
var Releases = []Version{{20, 10}, {23, 0}, {24, 0}, {25, 0}, {26, 0}, {26, 1},
	{27, 0}, {27, 1}, {27, 2}, {27, 3}, {27, 4}, {27, 5},
	{28, 0}, {28, 1}, {28, 2}, {28, 3}, {28, 4}, {28, 5}}

// releaseList names Releases briefly: 20.10, ..., 27.0 to 27.5, ...
func releaseList() string {
	var out []string
	for i := 0; i < len(Releases); {
		j := i
		for j+1 < len(Releases) && Releases[j+1].Major == Releases[i].Major {
			j++
		}
		if j > i {
			out = append(out, Releases[i].String()+" to "+Releases[j].String())
		} else {
			out = append(out, Releases[i].String())
		}
		i = j + 1
	}
	return strings.Join(out, ", ")
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

func (v Version) less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// atLeast reports whether v is major.minor or newer.
func (v Version) atLeast(major, minor int) bool { return !v.less(Version{major, minor}) }

// ParseVersion reads "20.10", "20.10.24", "v24.0.7", "28" or a string like
// "Docker version 24.0.7, build afdd53b"; the patch level does not change
// the rules.
func ParseVersion(s string) (Version, error) {
	orig := s
	if i := strings.Index(s, "version "); i >= 0 {
		s = s[i+len("version "):]
	}
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, ",+- "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) == 0 || parts[0] == "" {
		return Version{}, fmt.Errorf("parse docker version %q: empty", orig)
	}
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return Version{}, fmt.Errorf("parse docker version %q: %w", orig, err)
	}
	minor := 0
	if len(parts) > 1 {
		if minor, err = strconv.Atoi(parts[1]); err != nil {
			return Version{}, fmt.Errorf("parse docker version %q: %w", orig, err)
		}
	}
	v := Version{major, minor}
	if v.less(V2010) {
		return Version{}, fmt.Errorf("docker version %q: rule sets exist for 20.10 and newer", orig)
	}
	if !Current.less(v) && !slices.Contains(Releases, v) {
		return Version{}, fmt.Errorf("docker version %q: dockerd %s was never released; the releases with rule sets are %s (a later release is judged by the %s rules)",
			orig, v, releaseList(), Current)
	}
	return v, nil
}

// span limits a rule to the releases [since, until); zero means open.
type span struct{ since, until Version }

func (s span) has(v Version) bool {
	if s.since != (Version{}) && v.less(s.since) {
		return false
	}
	if s.until != (Version{}) && !v.less(s.until) {
		return false
	}
	return true
}

func (s span) describe() string {
	switch {
	case s.since != (Version{}) && s.until != (Version{}):
		return fmt.Sprintf("dockerd %s to %d.%d", s.since, s.until.Major, s.until.Minor)
	case s.since != (Version{}):
		return "dockerd " + s.since.String() + " and newer"
	case s.until != (Version{}):
		return "dockerd before " + s.until.String()
	}
	return "every dockerd"
}

func since(major, minor int) span { return span{since: Version{major, minor}} }
func until(major, minor int) span { return span{until: Version{major, minor}} }

var always = span{}

// flagDef is one dockerd command-line flag. dockerd accepts a file key when
// it is a flag name or the "named option" name of a list/map flag, and
// refuses a key set both in the file and as a changed flag.
type flagDef struct {
	name  string
	short string
	bool  bool   // takes no argument (--name or --name=false)
	named string // config key of a named option (labels for --label)
	span  span
}

// flags lists dockerd's Linux flags across releases, read from
// cmd/dockerd (config.go, config_unix.go, config_common_unix.go, options.go,
// docker.go) of each release.
var flags = []flagDef{
	{name: "add-runtime", named: "runtimes"},
	{name: "allow-direct-routing", bool: true, span: since(28, 0)},
	{name: "allow-nondistributable-artifacts", named: "allow-nondistributable-artifacts"},
	{name: "api-cors-header"},
	{name: "authorization-plugin", named: "authorization-plugins"},
	{name: "bip"},
	{name: "bip6", span: since(28, 0)},
	{name: "bridge", short: "b"},
	{name: "cdi-spec-dir", named: "cdi-spec-dirs", span: since(25, 0)},
	{name: "cgroup-parent"},
	{name: "cluster-advertise", span: until(24, 0)},
	{name: "cluster-store", span: until(24, 0)},
	{name: "cluster-store-opt", named: "cluster-store-opts", span: until(24, 0)},
	{name: "config-file"},
	{name: "containerd"},
	{name: "containerd-namespace"},
	{name: "containerd-plugins-namespace"},
	{name: "cpu-rt-period"},
	{name: "cpu-rt-runtime"},
	{name: "cri-containerd", bool: true},
	{name: "data-root"},
	{name: "debug", short: "D", bool: true},
	{name: "default-address-pool", named: "default-address-pools"},
	{name: "default-cgroupns-mode"},
	{name: "default-gateway"},
	{name: "default-gateway-v6"},
	{name: "default-ipc-mode"},
	{name: "default-network-opt", named: "default-network-opts", span: since(24, 0)},
	{name: "default-runtime"},
	{name: "default-shm-size"},
	{name: "default-ulimit", named: "default-ulimits"},
	{name: "dns"},
	{name: "dns-opt", named: "dns-opts"},
	{name: "dns-search"},
	{name: "exec-opt", named: "exec-opts"},
	{name: "exec-root"},
	{name: "experimental", bool: true},
	{name: "feature", named: "features", span: since(27, 0)},
	{name: "fixed-cidr"},
	{name: "fixed-cidr-v6"},
	{name: "graph", short: "g", span: until(24, 0)},
	{name: "group", short: "G"},
	{name: "help", short: "h", bool: true},
	{name: "host", short: "H", named: "hosts"},
	{name: "host-gateway-ip", span: until(28, 0)},
	{name: "host-gateway-ip", named: "host-gateway-ips", span: since(28, 0)},
	{name: "http-proxy", span: since(23, 0)},
	{name: "https-proxy", span: since(23, 0)},
	{name: "icc", bool: true},
	{name: "init", bool: true},
	{name: "init-path"},
	{name: "insecure-registry", named: "insecure-registries"},
	{name: "ip"},
	{name: "ip-forward", bool: true},
	{name: "ip-forward-no-drop", bool: true, span: since(28, 0)},
	{name: "ip-masq", bool: true},
	{name: "ip6tables", bool: true},
	{name: "iptables", bool: true},
	{name: "ipv6", bool: true},
	{name: "label", named: "labels"},
	{name: "live-restore", bool: true},
	{name: "log-driver"},
	{name: "log-format", span: since(25, 0)},
	{name: "log-level", short: "l"},
	{name: "log-opt", named: "log-opts"},
	{name: "max-concurrent-downloads"},
	{name: "max-concurrent-uploads"},
	{name: "max-download-attempts"},
	{name: "metrics-addr"},
	{name: "mtu"},
	{name: "network-control-plane-mtu"},
	{name: "network-diagnostic-port"},
	{name: "no-new-privileges", bool: true},
	{name: "no-proxy", span: since(23, 0)},
	{name: "node-generic-resource", named: "node-generic-resources"},
	{name: "oom-score-adjust", span: until(26, 0)},
	{name: "pidfile", short: "p"},
	{name: "raw-logs", bool: true},
	{name: "registry-mirror", named: "registry-mirrors"},
	{name: "restart", short: "r", bool: true},
	{name: "rootless", bool: true},
	{name: "seccomp-profile"},
	{name: "selinux-enabled", bool: true},
	{name: "shutdown-timeout"},
	{name: "storage-driver", short: "s"},
	{name: "storage-opt", named: "storage-opts"},
	{name: "swarm-default-advertise-addr"},
	{name: "tls", bool: true},
	{name: "tlscacert"},
	{name: "tlscert"},
	{name: "tlskey"},
	{name: "tlsverify", bool: true},
	{name: "userland-proxy", bool: true},
	{name: "userland-proxy-path"},
	{name: "userns-remap"},
	{name: "validate", bool: true, span: since(23, 0)},
	{name: "version", short: "v", bool: true},
}

// flatKeys hold maps that dockerd keeps as values; any other object value
// is flattened: its members are checked as if they were top-level keys.
var flatKeys = map[string]span{
	"cluster-store-opts":   always,
	"default-network-opts": since(24, 0),
	"log-opts":             always,
	"runtimes":             always,
	"default-ulimits":      always,
	"features":             always,
	"builder":              always,
}

// skipUnknown are keys dockerd accepts without a matching flag.
var skipUnknown = map[string]span{
	"features":                         always,
	"builder":                          always,
	"deprecated-key-path":              always,
	"allow-nondistributable-artifacts": since(28, 0),
}

// fieldType is the Go type a key decodes into, which decides the JSON
// types dockerd accepts.
type fieldType int

const (
	tBool fieldType = iota
	tBoolPtr
	tString
	tInt
	tInt64
	tUint32
	tStrings
	tStringMap
	tIP
	tIPs
	tMemBytes
	tPools
	tUlimits
	tRuntimes
	tFeatures
	tBuilder
	tNetOpts
	tProxies
)

var typeNames = map[fieldType]string{
	tBool: "true or false", tBoolPtr: "true or false", tString: "a string",
	tInt: "an integer", tInt64: "an integer", tUint32: "a non-negative integer",
	tStrings: "an array of strings", tStringMap: `an object of string values (e.g. {"max-file": "3"})`,
	tIP: "an IP address string", tIPs: "an array of IP address strings",
	tMemBytes: `a size string (e.g. "64M")`,
	tPools:    `an array of {"base": "CIDR", "size": N} objects`,
	tUlimits:  `an object of {"Name": "nofile", "Soft": N, "Hard": N} objects`,
	tRuntimes: `an object of {"path": "/usr/bin/runtime", "runtimeArgs": [...]} objects`,
	tFeatures: "an object of true/false values",
	tBuilder:  `an object like {"gc": {"enabled": true}}`,
	tNetOpts:  `an object of driver names to objects of string values`,
	tProxies:  `an object with "http-proxy", "https-proxy", "no-proxy" strings`,
}

// fieldDef is one key of dockerd's Config struct (its JSON tag).
type fieldDef struct {
	key  string
	typ  fieldType
	span span
}

// fields lists the Config struct's JSON keys on Linux across releases
// (daemon/config: config.go, config_unix.go, config_common_unix.go,
// config_linux.go, and registry's ServiceOptions).
var fields = []fieldDef{
	{"allow-direct-routing", tBool, since(28, 0)},
	{"allow-nondistributable-artifacts", tStrings, until(28, 0)},
	{"api-cors-header", tString, always},
	{"authorization-plugins", tStrings, always},
	{"bip", tString, always},
	{"bip6", tString, since(28, 0)},
	{"bridge", tString, always},
	{"builder", tBuilder, always},
	{"cdi-spec-dirs", tStrings, since(25, 0)},
	{"cgroup-parent", tString, always},
	{"cluster-advertise", tString, until(24, 0)},
	{"cluster-store", tString, until(24, 0)},
	{"cluster-store-opts", tStringMap, until(24, 0)},
	{"containerd", tString, always},
	{"containerd-namespace", tString, always},
	{"containerd-plugin-namespace", tString, always},
	{"cpu-rt-period", tInt64, always},
	{"cpu-rt-runtime", tInt64, always},
	{"cri-containerd", tBool, always},
	{"data-root", tString, always},
	{"debug", tBool, always},
	{"default-address-pools", tPools, always},
	{"default-cgroupns-mode", tString, always},
	{"default-gateway", tIP, always},
	{"default-gateway-v6", tIP, always},
	{"default-init", tString, always},
	{"default-ipc-mode", tString, always},
	{"default-network-opts", tNetOpts, since(24, 0)},
	{"default-runtime", tString, always},
	{"default-shm-size", tMemBytes, always},
	{"default-ulimits", tUlimits, always},
	{"deprecated-key-path", tString, always},
	{"dns", tStrings, until(25, 0)},
	{"dns", tIPs, since(25, 0)},
	{"dns-opts", tStrings, always},
	{"dns-search", tStrings, always},
	{"exec-opts", tStrings, always},
	{"exec-root", tString, always},
	{"experimental", tBool, always},
	{"features", tFeatures, always},
	{"fixed-cidr", tString, always},
	{"fixed-cidr-v6", tString, always},
	{"graph", tString, until(24, 0)},
	{"group", tString, always},
	{"host-gateway-ip", tIP, always},
	{"host-gateway-ips", tIPs, since(28, 0)},
	{"hosts", tStrings, always},
	{"icc", tBool, always},
	{"init", tBool, always},
	{"init-path", tString, always},
	{"insecure-registries", tStrings, always},
	{"ip", tIP, always},
	{"ip-forward", tBool, always},
	{"ip-forward-no-drop", tBool, since(28, 0)},
	{"ip-masq", tBool, always},
	{"ip6tables", tBool, always},
	{"iptables", tBool, always},
	{"ipv6", tBool, always},
	{"labels", tStrings, always},
	{"live-restore", tBool, always},
	{"log-driver", tString, always},
	{"log-format", tString, since(25, 0)},
	{"log-level", tString, always},
	{"log-opts", tStringMap, always},
	{"max-concurrent-downloads", tInt, always},
	{"max-concurrent-uploads", tInt, always},
	{"max-download-attempts", tInt, always},
	{"metrics-addr", tString, always},
	{"mtu", tInt, always},
	{"network-control-plane-mtu", tInt, always},
	{"network-diagnostic-port", tInt, always},
	{"no-new-privileges", tBool, always},
	{"node-generic-resources", tStrings, always},
	{"oom-score-adjust", tInt, until(26, 0)},
	{"pidfile", tString, always},
	{"proxies", tProxies, since(23, 0)},
	{"raw-logs", tBool, always},
	{"registry-mirrors", tStrings, always},
	{"resolv-conf", tString, always},
	{"rootless", tBool, always},
	{"runtimes", tRuntimes, always},
	{"seccomp-profile", tString, always},
	{"selinux-enabled", tBool, always},
	{"shutdown-timeout", tInt, always},
	{"storage-driver", tString, always},
	{"storage-opts", tStrings, always},
	{"swarm-default-advertise-addr", tString, always},
	{"swarm-raft-election-tick", tUint32, always},
	{"swarm-raft-heartbeat-tick", tUint32, always},
	{"tls", tBoolPtr, always},
	{"tlscacert", tString, always},
	{"tlscert", tString, always},
	{"tlskey", tString, always},
	{"tlsverify", tBoolPtr, always},
	{"userland-proxy", tBool, always},
	{"userland-proxy-path", tString, always},
	{"userns-remap", tString, always},
}

// reloadable are the keys a running dockerd applies on SIGHUP (daemon
// Reload and reloadPlatform); every other key needs a restart. Docker's
// documentation lists the same set.
var reloadable = map[string]span{
	"allow-nondistributable-artifacts": until(28, 0),
	"authorization-plugins":            always,
	"cluster-advertise":                until(24, 0),
	"cluster-store":                    until(24, 0),
	"cluster-store-opts":               until(24, 0),
	"debug":                            always,
	"default-cgroupns-mode":            always,
	"default-ipc-mode":                 always,
	"default-runtime":                  always,
	"default-shm-size":                 always,
	"features":                         always,
	"insecure-registries":              always,
	"labels":                           always,
	"live-restore":                     always,
	"max-concurrent-downloads":         always,
	"max-concurrent-uploads":           always,
	"max-download-attempts":            always,
	"network-diagnostic-port":          always,
	"registry-mirrors":                 always,
	"runtimes":                         always,
	"shutdown-timeout":                 always,
}

// ruleSet is the view of the tables for one release.
type ruleSet struct {
	v         Version
	flagByKey map[string]*flagDef // accepted directive -> its flag
	flagNames map[string]*flagDef // long and short flag names
	fieldOf   map[string]fieldType
}

func newRuleSet(v Version) *ruleSet {
	rs := &ruleSet{v: v, flagByKey: map[string]*flagDef{}, flagNames: map[string]*flagDef{}, fieldOf: map[string]fieldType{}}
	for i := range flags {
		f := &flags[i]
		if !f.span.has(v) {
			continue
		}
		rs.flagNames[f.name] = f
		if f.short != "" {
			rs.flagNames[f.short] = f
		}
		rs.flagByKey[f.name] = f
		if f.named != "" {
			rs.flagByKey[f.named] = f
		}
	}
	for _, fd := range fields {
		if fd.span.has(v) {
			rs.fieldOf[fd.key] = fd.typ
		}
	}
	return rs
}

// known reports whether dockerd accepts key in the file (flattened form).
func (rs *ruleSet) known(key string) bool {
	if _, ok := rs.flagByKey[key]; ok {
		return true
	}
	s, ok := skipUnknown[key]
	return ok && s.has(rs.v)
}

func (rs *ruleSet) flat(key string) bool {
	s, ok := flatKeys[key]
	return ok && s.has(rs.v)
}

func (rs *ruleSet) reloadable(key string) bool {
	s, ok := reloadable[key]
	return ok && s.has(rs.v)
}

// otherReleases says in which releases an unknown key is accepted, to
// explain keys that were removed or are too new.
func otherReleases(key string) string {
	for _, f := range flags {
		if (f.name == key || f.named == key) && f.span != always {
			return f.span.describe()
		}
	}
	if s, ok := skipUnknown[key]; ok && s != always {
		return s.describe()
	}
	return ""
}

// allKeys lists every directive any release accepts, for suggestions.
func (rs *ruleSet) allKeys() []string {
	var out []string
	for k := range rs.flagByKey {
		out = append(out, k)
	}
	for k, s := range skipUnknown {
		if s.has(rs.v) {
			out = append(out, k)
		}
	}
	return out
}
