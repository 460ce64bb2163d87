package daemonjson

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Accessors for the merged view dockerd validates: the file's value (the
// last occurrence of a key) or else the flag's.

func (c *checker) file(key string) *node { return c.root.last(key) }

// str returns a string setting and where it was set (offset -1: a flag).
func (c *checker) str(key string) (string, int, bool) {
	if n := c.file(key); n != nil && n.kind == kString {
		return n.str, n.off, true
	}
	if v, ok := c.flag(key); ok {
		return v, -1, true
	}
	return "", -1, false
}

// boolean returns a bool setting, def when unset.
func (c *checker) boolean(key string, def bool) (val, set bool) {
	if n := c.file(key); n != nil && n.kind == kBool {
		return n.boolean, true
	}
	if v, ok := c.flag(key); ok {
		b, err := strconv.ParseBool(v)
		return err == nil && b, true
	}
	return def, false
}

func (c *checker) strings(key string) []*node {
	n := c.file(key)
	if n == nil || n.kind != kArray {
		return nil
	}
	var out []*node
	for _, e := range n.elems {
		if e.kind == kString {
			out = append(out, e)
		}
	}
	return out
}

func (c *checker) fail(key string, off int, msg, remedy string) {
	f := Finding{ID: IDValue, Severity: Fail, Key: key, Message: fmt.Sprintf("key %q: %s", key, msg), Remedy: remedy}
	if off >= 0 {
		f = c.at(f, off)
	}
	c.add(f)
}

func (c *checker) warn(id, key string, off int, msg, remedy string) {
	f := Finding{ID: id, Severity: Warn, Key: key, Message: fmt.Sprintf("key %q: %s", key, msg), Remedy: remedy}
	if off >= 0 {
		f = c.at(f, off)
	}
	c.add(f)
}

// values applies the checks of dockerd's config.Validate, the start-up
// checks of cmd/dockerd and daemon.NewDaemon that depend only on the
// configuration, and warns about values that only fail when a container
// is created.
func (c *checker) values() {
	if c.failed[IDType] || c.failed[IDUnknown] || c.failed[IDConflict] {
		// dockerd stops at the first error; values of a file it cannot
		// load are not worth reporting twice.
	}
	c.checkGraph()
	c.checkLogLevel()
	c.checkLogFormat()
	c.checkRegistries()
	c.checkDefaultBridge()
	c.checkStorage()
	c.checkDaemonPaths()
	c.checkMetricsAddr()
	c.checkBuilderSizes()
	c.checkDNS()
	c.checkLabels()
	c.checkCounts()
	c.checkRuntimes()
	c.checkGenericResources()
	c.checkModes()
	c.checkHosts()
	c.checkTLS()
	c.checkInsecureTCP()
	c.checkBridge()
	c.checkExecOpts()
	c.checkLogOpts()
	c.checkPools()
	c.checkUlimits()
	c.checkRemoved()
	c.ok(IDValue, "every value passes dockerd's checks")
}

func (c *checker) checkGraph() {
	g := c.file("graph")
	if g == nil || g.kind != kString || g.str == "" {
		return
	}
	switch {
	case c.rs.v.atLeast(23, 0):
		c.fail("graph", g.off, `the "graph" config file option is deprecated; dockerd 23 refuses it`, `rename "graph" to "data-root"`)
	case c.file("data-root") != nil && c.file("data-root").kind == kString && c.file("data-root").str != "":
		c.fail("graph", g.off, `cannot specify both "graph" and "data-root" config file options`, `remove "graph"`)
	default:
		c.warn(IDDeprecated, "graph", g.off, `"graph" is deprecated (dockerd 23 refuses it, 24 and newer do not know it)`, `rename "graph" to "data-root"`)
	}
}

func (c *checker) checkLogLevel() {
	lvl, off, ok := c.str("log-level")
	if !ok || lvl == "" {
		return
	}
	valid := []string{"panic", "fatal", "error", "warn", "info", "debug", "trace"}
	if !c.rs.v.atLeast(25, 0) {
		valid = append(valid, "warning") // logrus.ParseLevel
	}
	for _, v := range valid {
		if strings.ToLower(lvl) == v {
			return
		}
	}
	c.fail("log-level", off, fmt.Sprintf("invalid logging level %q", lvl), "use one of "+strings.Join(valid, ", "))
}

func (c *checker) checkLogFormat() {
	if !c.rs.v.atLeast(25, 0) {
		return
	}
	if v, off, ok := c.str("log-format"); ok && v != "" && v != "text" && v != "json" {
		c.fail("log-format", off, fmt.Sprintf("invalid log format: %s", v), `use "text" or "json"`)
	}
}

var (
	alphaRE  = regexp.MustCompile(`[a-zA-Z]`)
	domainRE = regexp.MustCompile(`^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$`)
)

func (c *checker) checkDNS() {
	if !c.rs.v.atLeast(25, 0) { // 25 and newer check it while decoding
		for _, n := range c.strings("dns") {
			if net.ParseIP(strings.TrimSpace(n.str)) == nil {
				c.fail("dns", n.off, fmt.Sprintf("%s is not an ip address", n.str), "list DNS servers by IP address")
			}
		}
	}
	for _, n := range c.strings("dns-search") {
		v := strings.Trim(n.str, " ")
		if v == "." {
			continue
		}
		m := domainRE.FindStringSubmatch(v)
		if alphaRE.FindString(v) == "" || m == nil || len(m[1]) >= 255 {
			c.fail("dns-search", n.off, fmt.Sprintf("%s is not a valid domain", n.str), "list search domains like example.com")
		}
	}
}

func (c *checker) checkLabels() {
	seen := map[string]string{}
	for _, n := range c.strings("labels") {
		l := n.str
		if !strings.Contains(l, "=") {
			c.fail("labels", n.off, fmt.Sprintf("bad attribute format: %s", l), `write labels as "key=value"`)
			continue
		}
		low := strings.ToLower(l)
		if strings.HasPrefix(low, "com.docker.") || strings.HasPrefix(low, "io.docker.") || strings.HasPrefix(low, "org.dockerproject.") {
			c.fail("labels", n.off, fmt.Sprintf("label %s is not allowed: the namespaces com.docker.*, io.docker.*, and org.dockerproject.* are reserved", l), "use your own namespace, e.g. com.example.owner=ops")
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		if prev, ok := seen[k]; ok && prev != v {
			c.fail("labels", n.off, fmt.Sprintf("conflict labels for %s=%s and %s=%s", k, v, k, prev), "keep one value per label key")
		}
		seen[k] = v
	}
}

func (c *checker) intVal(key string) (int64, int, bool) {
	if n := c.file(key); n != nil && n.kind == kNumber {
		if v, err := strconv.ParseInt(n.str, 10, 64); err == nil {
			return v, n.off, true
		}
	}
	if s, ok := c.flag(key); ok {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return v, -1, true
		}
	}
	return 0, -1, false
}

func (c *checker) checkCounts() {
	for _, k := range []string{"max-concurrent-downloads", "max-concurrent-uploads"} {
		if v, off, ok := c.intVal(k); ok && v < 0 {
			c.fail(k, off, fmt.Sprintf("invalid value %d: must not be negative", v), "use a positive number (defaults: downloads 3, uploads 5)")
		}
	}
	if v, off, ok := c.intVal("max-download-attempts"); ok {
		switch {
		case v < 0:
			c.fail("max-download-attempts", off, fmt.Sprintf("invalid max download attempts: %d", v), "use a positive number (default 5)")
		case v == 0 && !c.modern():
			c.fail("max-download-attempts", off, "invalid max download attempts: 0 (dockerd 20.10 needs at least 1)", "use a positive number (default 5)")
		}
	}
	if v, off, ok := c.intVal("mtu"); ok && v < 0 {
		if c.modern() {
			c.fail("mtu", off, fmt.Sprintf("invalid default MTU: %d", v), "use a positive MTU such as 1500, or remove the key")
		} else if br, _, _ := c.str("bridge"); br != "none" {
			// 20.10 checks it only when it creates the default bridge.
			c.fail("mtu", off, fmt.Sprintf(`invalid MTU number: %d (dockerd 20.10 fails creating the default "bridge" network)`, v), "use a positive MTU such as 1500, or remove the key")
		} else {
			c.warn(IDValue, "mtu", off, fmt.Sprintf(`negative MTU %d: dockerd 20.10 starts only because "bridge" is "none"; 23 and newer refuse it`, v), "use a positive MTU such as 1500, or remove the key")
		}
	}
	if v, off, ok := c.intVal("network-diagnostic-port"); ok && (v < 0 || v > 65535) && c.rs.v.atLeast(28, 0) {
		c.fail("network-diagnostic-port", off, fmt.Sprintf("invalid network-diagnostic-port (%d): value must be between 0 and 65535", v), "use a port number")
	}
	if v, off, ok := c.intVal("shutdown-timeout"); ok && v < 0 {
		c.warn(IDValue, "shutdown-timeout", off, fmt.Sprintf("negative shutdown timeout %d: dockerd waits for containers without limit when it stops", v), "use a number of seconds (default 15)")
	}
}

var builtinRuntimes = map[string]bool{"runc": true, "io.containerd.runc.v2": true}

func (c *checker) checkRuntimes() {
	rt := c.file("runtimes")
	names := map[string]bool{}
	if rt != nil && rt.kind == kObject {
		for _, m := range rt.members {
			names[m.key] = true
			if m.key == "runc" {
				c.fail("runtimes", m.keyOff, "runtime name 'runc' is reserved", `give the runtime another name, e.g. "runc-custom"`)
			}
			if c.modern() && m.val.kind == kObject {
				c.checkRuntime(m)
			}
		}
	}
	for _, v := range c.flagValues("add-runtime") {
		name, _, _ := strings.Cut(v, "=")
		names[name] = true
	}
	def, off, ok := c.str("default-runtime")
	if !ok || def == "" || builtinRuntimes[def] || names[def] {
		return
	}
	if def == "io.containerd.runtime.v1.linux" {
		c.warn(IDDeprecated, "default-runtime", off, "the v1 containerd shim is deprecated", `use "runc" or "io.containerd.runc.v2"`)
		return
	}
	if c.modern() && permissibleShimName(def) {
		return
	}
	c.fail("default-runtime", off, fmt.Sprintf("specified default runtime '%s' does not exist", def), `define it under "runtimes", or use "runc"`)
}

// permissibleShimName accepts containerd shim names such as
// io.containerd.runsc.v1, which dockerd 23 and newer use directly.
func permissibleShimName(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 3 {
		return false
	}
	last := parts[len(parts)-1]
	_, err := strconv.Atoi(strings.TrimPrefix(last, "v"))
	return strings.HasPrefix(last, "v") && err == nil
}

func (c *checker) checkGenericResources() {
	for _, n := range c.strings("node-generic-resources") {
		k, v, ok := strings.Cut(n.str, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			c.fail("node-generic-resources", n.off, fmt.Sprintf("could not parse GenericResource %q, missing '=' or malformed expression", n.str), `write "name=value", e.g. "gpu=GPU-1" or "ssd=2"`)
		}
	}
}

func (c *checker) checkModes() {
	if v, off, ok := c.str("default-ipc-mode"); ok && v != "" && v != "private" && v != "shareable" {
		c.fail("default-ipc-mode", off, fmt.Sprintf("IPC mode %q is not supported as default value", v), `use "shareable" or "private"`)
	}
	if v, off, ok := c.str("default-cgroupns-mode"); ok && v != "" && v != "host" && v != "private" {
		c.fail("default-cgroupns-mode", off, fmt.Sprintf("default cgroup namespace mode (%s) is invalid", v), `use "host" or "private"`)
	}
	ns, off, _ := c.str("containerd-namespace")
	// The file key containerd-plugins-namespace is accepted but not read.
	pns, _ := c.flag("containerd-plugins-namespace")
	if ns == "" {
		ns = "moby"
	}
	if pns == "" {
		pns = "plugins.moby"
	}
	if ns == pns {
		c.fail("containerd-namespace", off, "containers namespace and plugins namespace cannot be the same", "use another containerd namespace")
	}
	if c.rs.v.atLeast(28, 0) {
		if n := c.file("api-cors-header"); n != nil && n.kind == kString && n.str != "" {
			c.fail("api-cors-header", n.off, `"api-cors-header" has been removed`, "remove the key; put a reverse proxy in front of the API if you need CORS headers")
		}
	}
}

// parseHost mirrors dockerd's parseDaemonHost.
func parseHost(addr string) error {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil
	}
	proto, rest, found := strings.Cut(addr, "://")
	if !found {
		proto, rest = "tcp", addr
	}
	switch proto {
	case "tcp":
		if rest == "" {
			return nil
		}
		if strings.Contains(rest, "://") {
			return fmt.Errorf("Invalid proto, expected tcp: %s", addr)
		}
		if strings.HasSuffix(rest, "]:") {
			rest += "2375"
		}
		u, err := url.Parse("tcp://" + rest)
		if err != nil {
			return fmt.Errorf("Invalid bind address format: %s", addr)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			host, port, err = net.SplitHostPort(net.JoinHostPort(u.Host, "2375"))
		}
		_ = host
		if err != nil {
			return fmt.Errorf("Invalid bind address format: %s", addr)
		}
		if p, err := strconv.Atoi(port); port != "" && (err != nil || p < 0 || p > 65535) {
			return fmt.Errorf("invalid port %s in %s", port, addr)
		}
		if u.Path != "" {
			return fmt.Errorf("invalid bind address (%s): should not contain a path element", addr)
		}
		return nil
	case "npipe":
		return fmt.Errorf("invalid protocol format: %q (named pipes exist on Windows only)", proto)
	case "unix":
		if strings.Contains(rest, "://") {
			return fmt.Errorf("Invalid proto, expected %s: %s", proto, rest)
		}
		return nil
	case "fd":
		return nil
	}
	return fmt.Errorf("Invalid bind address format: %s", addr)
}

func (c *checker) checkHosts() {
	for _, n := range c.strings("hosts") {
		if err := parseHost(n.str); err != nil {
			c.fail("hosts", n.off, err.Error(), `use unix:///path/docker.sock, tcp://HOST:PORT or fd://`)
		}
	}
}

// checkInsecureTCP mirrors dockerd's loadListeners: a "hosts" entry on TCP
// without TLS client verification gives root on the host to whoever
// reaches the port. dockerd 20.10 to 26 warn; on an address that is not
// loopback and without an explicit "tls": false or "tlsverify" they also
// wait 15 s (and 1 s more) at every start — downtime that an upgrade's
// restart adds to every container's API outage. Docker's deprecation of
// unauthenticated TCP (docs/deprecated.md, docker/cli#4928) makes TLS
// verification mandatory from 27.0 on for any address but localhost: the
// 27+ rules refuse such a file, and say that the explicit opt-out is not
// one any more.
func (c *checker) checkInsecureTCP() {
	verify, verifySet := c.boolean("tlsverify", false)
	if verify {
		return
	}
	tls, tlsSet := c.boolean("tls", false)
	optOut := verifySet || (tlsSet && !tls)
	for _, n := range c.strings("hosts") {
		proto, addr, loopback := tcpHost(n.str)
		if proto != "tcp" {
			continue
		}
		const remedy = `set "tlsverify": true with "tlscacert", "tlscert" and "tlskey" (clients then need a certificate), ` +
			`or listen on "unix:///var/run/docker.sock" or "fd://" only`
		switch {
		case loopback:
			c.warn(IDInsecureTCP, "hosts", n.off, fmt.Sprintf("%s listens on TCP without TLS client verification: any local user, and scripts in a browser on this host, get root through it", n.str), remedy)
		case c.rs.v.atLeast(27, 0):
			c.add(c.at(Finding{ID: IDInsecureTCP, Severity: Fail, Key: "hosts",
				Message: fmt.Sprintf(`key "hosts": %s listens on %s over TCP without TLS client verification: dockerd 27 and newer require TLS verification on every TCP address but localhost (Docker's deprecation of unauthenticated TCP; "tls": false no longer opts out)`, n.str, addr),
				Remedy:  remedy + `, or bind it to 127.0.0.1`}, n.off))
		case optOut:
			c.warn(IDInsecureTCP, "hosts", n.off, fmt.Sprintf("%s listens on %s over TCP without TLS client verification: anyone who reaches the port is root on this host; dockerd 27 and newer refuse to start with it", n.str, addr), remedy)
		default:
			c.warn(IDInsecureTCP, "hosts", n.off, fmt.Sprintf(`%s listens on %s over TCP without TLS client verification: anyone who reaches the port is root on this host, and dockerd %s waits 16 s at every start to show its warning (an upgrade's restart keeps the API down that much longer); dockerd 27 and newer refuse to start with it`, n.str, addr, c.rs.v),
				remedy+`; "tls": false states the intent and removes the wait, not the risk`)
		}
	}
}

// tcpHost splits a "hosts" entry as dockerd's ParseHost does: no scheme
// is tcp, an empty address is localhost:2375. loopback: localhost or a
// loopback IP; a host name other than localhost is not resolved and
// counts as remote, as it would on another resolver.
func tcpHost(entry string) (proto, addr string, loopback bool) {
	entry = strings.TrimSpace(entry)
	proto, addr, found := strings.Cut(entry, "://")
	if !found {
		proto, addr = "tcp", entry
	}
	if proto != "tcp" {
		return proto, addr, false
	}
	if addr == "" {
		return proto, "localhost:2375", true
	}
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return proto, addr, true
	}
	ip := net.ParseIP(host)
	return proto, addr, ip != nil && ip.IsLoopback()
}

// checkTLS: a "tlsverify" key (whatever its value) or "tls": true turns TLS
// on; without a certificate and key dockerd cannot create its API server.
func (c *checker) checkTLS() {
	tlsOn := false
	off := -1
	if n := c.file("tlsverify"); n != nil {
		tlsOn, off = true, n.off
	} else if n := c.file("tls"); n != nil && n.kind == kBool && n.boolean {
		tlsOn, off = true, n.off
	}
	if !tlsOn {
		return
	}
	if _, ok := c.flag("tls"); ok {
		return
	}
	if _, ok := c.flag("tlsverify"); ok {
		return
	}
	cert, _, _ := c.str("tlscert")
	key, _, _ := c.str("tlskey")
	if cert == "" || key == "" {
		k := "tls"
		if c.file("tlsverify") != nil {
			k = "tlsverify"
		}
		c.fail(k, off, `TLS is enabled (any "tlsverify" key, even false, turns it on) but "tlscert" and "tlskey" are not set: dockerd fails with "Could not load X509 key pair"`,
			`set "tlscert" and "tlskey" (and "tlscacert" to verify clients), or remove "tls"/"tlsverify"`)
	}
}

func (c *checker) checkBridge() {
	br, _, brSet := c.str("bridge")
	bip, bipOff, bipSet := c.str("bip")
	if brSet && bipSet && br != "" && bip != "" {
		c.fail("bip", bipOff, `"bridge" and "bip" are mutually exclusive (You specified -b & --bip)`, `remove one of "bridge" and "bip"`)
	}
	ipt, _ := c.boolean("iptables", true)
	icc, _ := c.boolean("icc", true)
	if !ipt && !icc {
		off := -1
		if n := c.file("icc"); n != nil {
			off = n.off
		}
		c.fail("icc", off, "icc=false needs iptables, which is disabled", `set "icc" or "iptables" to true`)
	}
	if !c.rs.v.atLeast(27, 0) {
		ip6, set := c.boolean("ip6tables", false)
		exp, _ := c.boolean("experimental", false)
		off := -1
		if n := c.file("ip6tables"); n != nil {
			off = n.off
		}
		switch {
		case set && ip6 && !exp:
			c.fail("ip6tables", off, "ip6tables rules are only available if experimental features are enabled", `set "experimental": true, or remove "ip6tables"`)
		case set && ip6 && !ipt:
			c.fail("ip6tables", off, `ip6tables needs "iptables" enabled (cannot create new chains, EnableIPTable is disabled)`, `set "iptables": true, or remove "ip6tables"`)
		}
	}
}

func (c *checker) execOpts() []*node {
	out := c.strings("exec-opts")
	for _, v := range c.flagValues("exec-opt") {
		out = append(out, &node{kind: kString, str: v, off: -1})
	}
	return out
}

func (c *checker) checkExecOpts() {
	driver := ""
	for _, n := range c.execOpts() {
		k, v, ok := strings.Cut(n.str, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if c.rs.v.atLeast(28, 0) {
			switch {
			case !ok || k == "" || v == "":
				c.fail("exec-opts", n.off, fmt.Sprintf("invalid exec-opt (%s): must be formatted 'opt=value'", n.str), `write "native.cgroupdriver=systemd" or "native.cgroupdriver=cgroupfs"`)
				continue
			case k == "isolation":
				c.fail("exec-opts", n.off, fmt.Sprintf("invalid exec-opt (%s): option 'isolation' is only supported on windows", n.str), "remove the option")
				continue
			case k != "native.cgroupdriver":
				c.fail("exec-opts", n.off, fmt.Sprintf("invalid exec-opt (%s): unknown option: '%s'", n.str, k), "remove the option")
				continue
			}
		} else if ok && k != "native.cgroupdriver" {
			c.warn(IDValue, "exec-opts", n.off, fmt.Sprintf("exec-opt %q is ignored on Linux (dockerd 28 refuses unknown exec-opts)", n.str), "remove the option")
			continue
		} else if !ok {
			c.warn(IDValue, "exec-opts", n.off, fmt.Sprintf("exec-opt %q is not key=value and is ignored (dockerd 28 refuses it)", n.str), `write "native.cgroupdriver=systemd"`)
			continue
		}
		if k == "native.cgroupdriver" && driver == "" {
			driver = v
			switch v {
			case "cgroupfs", "systemd":
			case "none":
				c.fail("exec-opts", n.off, "native.cgroupdriver option none is internally used and cannot be specified manually", `use "systemd" or "cgroupfs"`)
			default:
				c.fail("exec-opts", n.off, fmt.Sprintf("native.cgroupdriver option %s not supported", v), `use "native.cgroupdriver=systemd" or "native.cgroupdriver=cgroupfs"`)
			}
		}
	}
	if driver == "systemd" {
		if p, off, ok := c.str("cgroup-parent"); ok && p != "" && (len(p) <= 6 || !strings.HasSuffix(p, ".slice")) {
			c.fail("cgroup-parent", off, `cgroup-parent for the systemd cgroup driver must be a slice named "xxx.slice"`, `use a slice name such as "docker-containers.slice"`)
		}
	}
}

func (c *checker) checkPools() {
	n := c.file("default-address-pools")
	if n == nil || n.kind != kArray {
		return
	}
	for i, e := range n.elems {
		if e.kind != kObject {
			continue
		}
		var base, size *node
		for _, m := range e.members {
			switch strings.ToLower(m.key) {
			case "base":
				base = m.val
			case "size":
				size = m.val
			}
		}
		where := fmt.Sprintf("pool %d", i+1)
		if base == nil || base.kind != kString {
			c.fail("default-address-pools", e.off, where+": invalid base pool \"\": a base CIDR is required", `write {"base": "10.201.0.0/16", "size": 24}`)
			continue
		}
		_, ipnet, err := net.ParseCIDR(base.str)
		if err != nil {
			c.fail("default-address-pools", base.off, fmt.Sprintf("%s: invalid base pool %q: invalid CIDR address", where, base.str), `write the base as a CIDR, e.g. "10.201.0.0/16"`)
			continue
		}
		ones, bits := ipnet.Mask.Size()
		sz := int64(0)
		if size != nil && size.kind == kNumber {
			sz, _ = strconv.ParseInt(size.str, 10, 64)
		}
		off := e.off
		if size != nil {
			off = size.off
		}
		if sz <= 0 || sz < int64(ones) {
			c.fail("default-address-pools", off, fmt.Sprintf("%s: invalid pools size: %d (must be between the base prefix /%d and /%d)", where, sz, ones, bits), fmt.Sprintf(`use a "size" between %d and %d, e.g. 24`, ones, bits))
		} else if sz > int64(bits) && (!c.modern() || bits == 32) {
			c.fail("default-address-pools", off, fmt.Sprintf("%s: pools size %d is longer than an address (%d bits)", where, sz, bits), fmt.Sprintf(`use a "size" between %d and %d`, ones, bits))
		}
	}
}

var ulimitNames = map[string]bool{"core": true, "cpu": true, "data": true, "fsize": true, "locks": true, "memlock": true, "msgqueue": true, "nice": true, "nofile": true, "nproc": true, "rss": true, "rtprio": true, "rttime": true, "sigpending": true, "stack": true}

// checkUlimits: dockerd starts with any ulimit; containers fail to start
// when the values are wrong, so these are warnings.
func (c *checker) checkUlimits() {
	n := c.file("default-ulimits")
	if n == nil || n.kind != kObject {
		return
	}
	for _, m := range n.members {
		if m.val.kind != kObject {
			continue
		}
		var soft, hard int64
		var hasSoft, hasHard bool
		for _, f := range m.val.members {
			v, err := strconv.ParseInt(f.val.str, 10, 64)
			switch {
			case strings.EqualFold(f.key, "soft") && err == nil:
				soft, hasSoft = v, true
			case strings.EqualFold(f.key, "hard") && err == nil:
				hard, hasHard = v, true
			}
		}
		if !ulimitNames[m.key] {
			c.warn(IDValue, "default-ulimits", m.keyOff, fmt.Sprintf("unknown ulimit %q: dockerd starts, but containers fail to start", m.key), "use a name such as nofile, nproc, memlock, core, stack")
		}
		if hasSoft && hasHard && soft > hard && hard >= 0 {
			c.warn(IDValue, "default-ulimits", m.keyOff, fmt.Sprintf("ulimit %s: soft limit %d is above the hard limit %d: dockerd starts, but containers fail to start", m.key, soft, hard), "make Soft at most Hard")
		}
	}
}

// checkRemoved warns about keys that still work but are deprecated.
func (c *checker) checkRemoved() {
	for _, k := range []string{"cluster-store", "cluster-advertise", "cluster-store-opts"} {
		if n := c.file(k); n != nil && c.rs.known(k) {
			c.warn(IDDeprecated, k, n.off, "legacy swarm-classic option, removed in dockerd 24", "remove the key")
		}
	}
	if n := c.file("oom-score-adjust"); n != nil && c.rs.v.atLeast(24, 0) && c.rs.known("oom-score-adjust") {
		c.warn(IDDeprecated, "oom-score-adjust", n.off, "deprecated and ignored; removed in dockerd 26", "remove the key; set OOMScoreAdjust= in the systemd unit instead")
	}
}

// upgradeSafety: live-restore keeps containers running while dockerd is
// stopped and replaced; it cannot be used in swarm mode.
func (c *checker) upgradeSafety() {
	lr, set := c.boolean("live-restore", false)
	off := -1
	if n := c.file("live-restore"); n != nil {
		off = n.off
	}
	if c.opts.Swarm {
		if lr {
			f := Finding{ID: IDSwarm, Severity: Fail, Key: "live-restore",
				Message: `"live-restore" is true and this node is in swarm mode: dockerd exits at start-up (--live-restore daemon configuration is incompatible with swarm mode)`,
				Remedy:  `leave the swarm (docker swarm leave) before enabling live-restore, or set "live-restore": false and plan for containers to restart`}
			if off >= 0 {
				f = c.at(f, off)
			}
			c.add(f)
		}
		for _, k := range []string{"cluster-store", "cluster-advertise"} {
			if n := c.file(k); n != nil && n.kind == kString && n.str != "" && c.rs.known(k) {
				c.add(c.at(Finding{ID: IDSwarm, Severity: Fail, Key: k,
					Message: fmt.Sprintf("%q is set and this node is in swarm mode: dockerd exits at start-up (incompatible with swarm mode)", k),
					Remedy:  "remove the key"}, n.off))
			}
		}
		c.ok(IDSwarm, "no option incompatible with swarm mode")
	}
	msg := ""
	switch {
	case !set:
		msg = `"live-restore" is not set (default false): stopping dockerd for the upgrade stops every container`
	case !lr:
		msg = `"live-restore" is false: stopping dockerd for the upgrade stops every container`
	}
	if msg == "" {
		c.ok(IDLiveRestore, "live-restore is on: containers keep running while dockerd is replaced")
		return
	}
	if c.opts.Swarm {
		msg += " (swarm mode does not allow live-restore; swarm services are rescheduled instead)"
	}
	f := Finding{ID: IDLiveRestore, Severity: Warn, Key: "live-restore", Message: msg,
		Remedy: `set "live-restore": true and reload dockerd (systemctl reload docker): it applies on SIGHUP without stopping containers`}
	if c.opts.Strict && !c.opts.Swarm {
		f.Severity, f.Strict = Fail, true
	}
	if off >= 0 {
		f = c.at(f, off)
	}
	c.add(f)
}

// syntaxRemedy explains the usual causes of a JSON syntax error.
func syntaxRemedy(text []byte, se *syntaxError) string {
	at := byte(0)
	if se.off < len(text) {
		at = text[se.off]
	}
	switch {
	case at == '/' || at == '#':
		return "remove the comment: daemon.json is plain JSON and has no comments"
	case (at == '}' || at == ']') && strings.Contains(se.msg, "looking for beginning"):
		return "remove the trailing comma before " + string(at)
	case at == '\'':
		return "use double quotes for keys and strings"
	case strings.Contains(se.msg, "after object key:value pair") || strings.Contains(se.msg, "after array element"):
		return "add the missing comma between entries"
	case strings.Contains(se.msg, "unexpected end"):
		return "close every { [ and \" that is opened; the file ends too early"
	case strings.Contains(se.msg, "object key string"):
		return `quote the key: "key": value`
	}
	return "fix the JSON at this position (check it with: python3 -m json.tool FILE)"
}
