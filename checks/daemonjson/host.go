package daemonjson

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// IDHost marks a finding that depends on the host, not on the file alone:
// a certificate, user, group, plugin, socket, interface or file system the
// file names. The same file can start on another host.
const IDHost = "daemon-json.host"

// Host is what the host-dependent checks look at: the real host
// (LocalHost), or in tests the sandbox a verdict was recorded in.
type Host interface {
	ReadFile(path string) ([]byte, error)
	Stat(path string) (fs.FileInfo, error)
	ReadDir(path string) ([]fs.DirEntry, error)
	// Interfaces are the names of the network interfaces.
	Interfaces() ([]string, error)
	// Resolve looks a host name up.
	Resolve(name string) error
	// FSType names the file system path is on ("ext4", "xfs", ...).
	FSType(path string) (string, error)
	// SELinux reports whether SELinux is enabled.
	SELinux() bool
	// SocketActivated reports whether dockerd will be started by a
	// systemd socket (fd:// listeners); known is false when it cannot
	// tell.
	SocketActivated() (activated, known bool)
}

// LocalHost is the host liveswap runs on.
type LocalHost struct {
	// Activated says whether the daemon's unit is socket-activated
	// (docker.socket); nil when unknown.
	Activated *bool
}

func (LocalHost) ReadFile(p string) ([]byte, error)  { return os.ReadFile(p) }
func (LocalHost) Stat(p string) (fs.FileInfo, error) { return os.Stat(p) }

func (LocalHost) ReadDir(p string) ([]fs.DirEntry, error) { return os.ReadDir(p) }

func (LocalHost) Interfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	var out []string
	for _, i := range ifs {
		out = append(out, i.Name)
	}
	return out, err
}

func (LocalHost) Resolve(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := net.DefaultResolver.LookupHost(ctx, name)
	return err
}

func (LocalHost) FSType(p string) (string, error) { return FSTypeOf(p) }

func (LocalHost) SELinux() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

func (h LocalHost) SocketActivated() (bool, bool) {
	if h.Activated == nil {
		return false, false
	}
	return *h.Activated, true
}

// FSTypeOf names the file system of the nearest existing folder of p.
func FSTypeOf(p string) (string, error) {
	for {
		var st syscall.Statfs_t
		err := syscall.Statfs(p, &st)
		if err == nil {
			if name, ok := fsNames[int64(st.Type)]; ok {
				return name, nil
			}
			return fmt.Sprintf("0x%x", st.Type), nil
		}
		if !errors.Is(err, syscall.ENOENT) || p == "/" || p == "." {
			return "", err
		}
		p = filepath.Dir(p)
	}
}

var fsNames = map[int64]string{0xEF53: "extfs", 0x58465342: "xfs", 0x9123683E: "btrfs", 0x2fc12fc1: "zfs",
	0x01021994: "tmpfs", 0x794c7630: "overlayfs", 0x6969: "nfs"}

// CheckHost judges what the file names on this host: TLS files exist and
// parse, the userns-remap user and its subordinate ID ranges, the socket
// group, authorization and logging plugins, runtimes' and helpers' paths,
// listeners' folders and names, selinux-enabled, and the storage driver
// and options against the backing file system. Its findings carry IDHost
// and say "on this host". A file that does not parse gets none: Validate
// reports it.
func CheckHost(data []byte, opts Options, h Host) []Finding {
	v := V2010
	if pv, err := ParseVersion(opts.DockerVersion); err == nil {
		v = pv
	}
	if Current.less(v) {
		v = Current
	}
	c := newChecker(v, opts, &Report{})
	c.run(data)
	if c.root == nil || len(c.root.members) == 0 {
		return nil
	}
	c.r.Findings = nil
	hc := hostChecker{checker: c, h: h}
	hc.tlsFiles()
	hc.userns()
	hc.group()
	hc.plugins()
	hc.paths()
	hc.listeners()
	hc.network()
	hc.storage()
	hc.selinux()
	return c.r.Findings
}

type hostChecker struct {
	*checker
	h Host
}

func (c hostChecker) fail(key string, off int, msg, remedy string) {
	f := Finding{ID: IDHost, Severity: Fail, Key: key, Message: fmt.Sprintf("key %q: on this host: %s", key, msg), Remedy: remedy}
	if off >= 0 {
		f = c.at(f, off)
	}
	c.add(f)
}

func (c hostChecker) warn(key string, off int, msg, remedy string) {
	f := Finding{ID: IDHost, Severity: Warn, Key: key, Message: fmt.Sprintf("key %q: on this host: %s", key, msg), Remedy: remedy}
	if off >= 0 {
		f = c.at(f, off)
	}
	c.add(f)
}

// tlsFiles: with TLS on, dockerd loads the key pair (and, verifying
// clients, the CA) before it listens.
func (c hostChecker) tlsFiles() {
	verify := c.file("tlsverify") != nil
	tlsOn, _ := c.boolean("tls", false)
	if _, ok := c.flag("tlsverify"); ok {
		verify = true
	}
	if !verify && !tlsOn {
		return
	}
	cert, coff, _ := c.str("tlscert")
	key, koff, _ := c.str("tlskey")
	if cert == "" || key == "" {
		return // Validate reports a missing tlscert/tlskey
	}
	cb, err := c.h.ReadFile(cert)
	if err != nil {
		c.fail("tlscert", coff, fmt.Sprintf("could not load X509 key pair: %v", err), "put the server certificate at "+cert+", or fix the path")
		return
	}
	kb, err := c.h.ReadFile(key)
	if err != nil {
		c.fail("tlskey", koff, fmt.Sprintf("could not load X509 key pair: %v", err), "put the server's private key at "+key+", or fix the path")
		return
	}
	if _, err := tls.X509KeyPair(cb, kb); err != nil {
		c.fail("tlscert", coff, fmt.Sprintf("error reading X509 key pair (cert %s, key %s): %v", cert, key, err), `"tlscert" must be a PEM certificate and "tlskey" its unencrypted PEM private key`)
	}
	if v, _ := c.boolean("tlsverify", true); verify && v {
		ca, off, _ := c.str("tlscacert")
		if ca == "" {
			return // dockerd's default CA path; not judged
		}
		b, err := c.h.ReadFile(ca)
		if err != nil {
			c.fail("tlscacert", off, fmt.Sprintf("could not read CA certificate: %v", err), "put the CA that signs client certificates at "+ca+", or fix the path")
			return
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			c.fail("tlscacert", off, fmt.Sprintf("failed to append certificates from PEM file %s", ca), "it must hold PEM certificates (-----BEGIN CERTIFICATE-----)")
		}
	}
}

// passwd-style databases: name -> fields.
func (c hostChecker) db(path string) [][]string {
	b, err := c.h.ReadFile(path)
	if err != nil {
		return nil
	}
	var out [][]string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Split(l, ":"))
		}
	}
	return out
}

// lookup finds an entry by name or, for a number, by ID (field 2).
func (c hostChecker) lookup(path, nameOrID string) []string {
	_, numErr := strconv.Atoi(nameOrID)
	for _, e := range c.db(path) {
		if len(e) > 2 && (e[0] == nameOrID || (numErr == nil && e[2] == nameOrID)) {
			return e
		}
	}
	return nil
}

func (c hostChecker) hasRange(path, name, id string) bool {
	for _, e := range c.db(path) {
		if len(e) == 3 && (e[0] == name || e[0] == id) {
			return true
		}
	}
	return false
}

// userns: "default" makes dockerd create dockremap; "root" turns it off;
// any other user (and its group: the user's name when none is given) must
// exist, with subordinate ID ranges in /etc/subuid and /etc/subgid.
func (c hostChecker) userns() {
	v, off, ok := c.str("userns-remap")
	if !ok || v == "" || v == "default" || v == "root" || v == "0" {
		return
	}
	user, group, hasGroup := strings.Cut(v, ":")
	const remedy = `create it (useradd -r NAME; usermod --add-subuids 100000-165535 --add-subgids 100000-165535 NAME), or use "userns-remap": "default" (dockerd creates dockremap)`
	u := c.lookup("/etc/passwd", user)
	if u == nil {
		c.fail("userns-remap", off, fmt.Sprintf("user %q does not exist (dockerd: error during uid lookup)", user), remedy)
		return
	}
	if !hasGroup {
		group = u[0]
	}
	g := c.lookup("/etc/group", group)
	if g == nil {
		msg := fmt.Sprintf("group %q does not exist (dockerd looks up the group of the same name as the user when none is given)", group)
		c.fail("userns-remap", off, msg, fmt.Sprintf(`name the group: "userns-remap": "%s:GROUP", or create group %s`, user, group))
		return
	}
	if !c.hasRange("/etc/subuid", u[0], u[2]) {
		c.fail("userns-remap", off, fmt.Sprintf("no subuid ranges found for user %q in /etc/subuid", u[0]), fmt.Sprintf("usermod --add-subuids 100000-165535 %s", u[0]))
	}
	if !c.hasRange("/etc/subgid", g[0], g[2]) {
		c.fail("userns-remap", off, fmt.Sprintf("no subgid ranges found for group %q in /etc/subgid", g[0]), fmt.Sprintf("usermod --add-subgids 100000-165535 %s", u[0]))
	}
}

// group: the API socket's group must exist (the default "docker" may not:
// dockerd then only warns).
func (c hostChecker) group() {
	g, off, ok := c.str("group")
	if !ok || g == "" || g == "docker" {
		return
	}
	if _, err := strconv.Atoi(g); err == nil {
		return
	}
	if c.lookup("/etc/group", g) == nil {
		c.fail("group", off, fmt.Sprintf("group %s not found: dockerd cannot create its unix socket", g), fmt.Sprintf("groupadd %s, or remove \"group\" (the default is docker)", g))
	}
}

// plugin reports whether a legacy plugin is discoverable where dockerd
// looks (pkg/plugins), and whether managed plugins exist that could be it.
func (c hostChecker) plugin(name string) (found, maybeManaged bool) {
	for _, p := range []string{"/run/docker/plugins/" + name + ".sock", "/run/docker/plugins/" + name + "/" + name + ".sock",
		"/etc/docker/plugins/" + name + ".spec", "/etc/docker/plugins/" + name + ".json",
		"/usr/lib/docker/plugins/" + name + ".spec", "/usr/lib/docker/plugins/" + name + ".json"} {
		if _, err := c.h.Stat(p); err == nil {
			return true, false
		}
	}
	root, _, _ := c.str("data-root")
	if root == "" {
		root = "/var/lib/docker"
	}
	// Managed plugins (docker plugin install) live in DATA-ROOT/plugins/ID/
	// with their name in config.json.
	ents, _ := c.h.ReadDir(filepath.Join(root, "plugins"))
	for _, e := range ents {
		b, err := c.h.ReadFile(filepath.Join(root, "plugins", e.Name(), "config.json"))
		if err == nil && strings.Contains(string(b), `"`+name) {
			return false, true
		}
	}
	return false, false
}

func (c hostChecker) plugins() {
	for _, n := range c.strings("authorization-plugins") {
		found, managed := c.plugin(n.str)
		switch {
		case managed:
			c.warn("authorization-plugins", n.off, fmt.Sprintf("plugin %q is not in the legacy plugin paths; a managed plugin of that name seems installed (docker plugin ls), which dockerd finds only once it is enabled", n.str), "check: docker plugin ls")
		case !found:
			c.fail("authorization-plugins", n.off, fmt.Sprintf("failed to validate authorization plugin: plugin %q not found", n.str),
				"install and start the plugin before dockerd (its socket in /run/docker/plugins or its spec in /etc/docker/plugins), or remove it from the list")
		}
	}
	driver, off, _ := c.str("log-driver")
	if driver == "" || logDriverBuiltin(driver) {
		return
	}
	found, managed := c.plugin(driver)
	if found || managed {
		return
	}
	if n := c.file("log-opts"); (n != nil && n.kind == kObject && len(n.members) > 0) || len(c.flagValues("log-opt")) > 0 {
		c.fail("log-driver", off, fmt.Sprintf("failed to set log opts: error looking up logging plugin %s: plugin %q not found (dockerd retries for about 15 s, then exits)", driver, driver),
			"use a built-in log driver, install the logging plugin before starting dockerd (docker plugin install), or remove \"log-opts\"")
		return
	}
	c.warn("log-driver", off, fmt.Sprintf("%q is neither a built-in log driver nor an installed plugin: dockerd starts, but every container fails to start", driver),
		"use json-file, local, journald, syslog, gelf, fluentd, awslogs, splunk, gcplogs or logentries, or install the plugin first")
}

func logDriverBuiltin(d string) bool {
	_, ok := logDrivers[d]
	return ok
}

// paths: files and binaries the file names.
func (c hostChecker) paths() {
	if p, off, ok := c.str("seccomp-profile"); ok && p != "" && !(c.modern() && (p == "unconfined" || p == "builtin")) {
		b, err := c.h.ReadFile(p)
		switch {
		case err != nil:
			c.fail("seccomp-profile", off, fmt.Sprintf("opening seccomp profile (%s) failed: %v", p, err), "put the profile at that path (an absolute path), or remove the key for Docker's built-in profile")
		case !json.Valid(b):
			// dockerd only reads it at start; it parses it per container.
			c.warn("seccomp-profile", off, fmt.Sprintf("seccomp profile %s is not JSON: dockerd starts, but every container fails to start", p), "use a JSON seccomp profile such as moby's profiles/seccomp/default.json")
		}
	}
	if p, off, ok := c.str("containerd"); ok && p != "" {
		if fi, err := c.h.Stat(p); err != nil || fi.Mode()&fs.ModeSocket == 0 {
			c.fail("containerd", off, fmt.Sprintf("%s is not a containerd socket: dockerd waits for it and never serves its API", p),
				"start containerd first (systemctl start containerd) and name its socket, usually /run/containerd/containerd.sock; or remove the key to let dockerd start its own")
		}
	}
	proxy, _ := c.boolean("userland-proxy", true)
	if p, off, ok := c.str("userland-proxy-path"); ok && proxy && p != "" && filepath.IsAbs(p) {
		if !c.executable(p) {
			sev := c.warn
			if c.modern() {
				sev = c.fail // 23 and newer check it while loading the file
			}
			sev("userland-proxy-path", off, fmt.Sprintf("%s is not an executable file", p), "install docker-proxy there (it comes with the docker package), or fix the path")
		}
	}
	if rt := c.file("runtimes"); rt != nil && rt.kind == kObject {
		for _, m := range rt.members {
			if m.val.kind != kObject {
				continue
			}
			for _, f := range m.val.members {
				if strings.EqualFold(f.key, "path") && f.val.kind == kString && filepath.IsAbs(f.val.str) && !c.executable(f.val.str) {
					c.warn("runtimes", f.val.off, fmt.Sprintf("runtime %s: %s is not an executable file: dockerd starts, but containers using it fail", m.key, f.val.str), "install the runtime there, or fix the path")
				}
			}
		}
	}
	if p, off, ok := c.str("init-path"); ok && p != "" && !c.executable(p) {
		c.warn("init-path", off, fmt.Sprintf("%s is not an executable file: dockerd starts, but containers run with --init fail", p), "install docker-init (tini) there, or fix the path")
	}
}

func (c hostChecker) executable(p string) bool {
	fi, err := c.h.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// listeners: a unix socket's folder must exist, a TCP name must resolve,
// fd:// needs socket activation.
func (c hostChecker) listeners() {
	for _, n := range c.strings("hosts") {
		proto, addr, found := strings.Cut(strings.TrimSpace(n.str), "://")
		if !found {
			proto, addr = "tcp", n.str
		}
		switch proto {
		case "unix":
			if addr != "" && filepath.IsAbs(addr) {
				if _, err := c.h.Stat(filepath.Dir(addr)); err != nil {
					c.fail("hosts", n.off, fmt.Sprintf("can't create unix socket %s: folder %s does not exist", addr, filepath.Dir(addr)), "create the folder first (a systemd RuntimeDirectory= or tmpfiles.d entry for /run), or use unix:///var/run/docker.sock")
				}
			}
		case "fd":
			if act, known := c.h.SocketActivated(); known && !act {
				c.fail("hosts", n.off, "fd:// takes its sockets from systemd socket activation, and this daemon is not socket-activated (no sockets found via socket activation)", `start dockerd through docker.socket, or listen on "unix:///var/run/docker.sock"`)
			}
		case "tcp":
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			host = strings.Trim(host, "[]")
			if host == "" || host == "localhost" || net.ParseIP(host) != nil {
				continue
			}
			if err := c.h.Resolve(host); err != nil {
				c.fail("hosts", n.off, fmt.Sprintf("%s does not resolve: dockerd fails to listen (%v)", host, err), "listen on an IP address (e.g. tcp://10.0.0.5:2376), or make the name resolvable before dockerd starts")
			}
		}
	}
}

// network: interfaces the file names must exist.
func (c hostChecker) network() {
	ifs, err := c.h.Interfaces()
	if err != nil {
		return
	}
	has := map[string]bool{}
	for _, i := range ifs {
		has[i] = true
	}
	if br, off, ok := c.str("bridge"); ok && br != "" && br != "none" && br != "docker0" && !has[br] {
		c.fail("bridge", off, fmt.Sprintf("bridge device %s does not exist: dockerd creates only docker0 itself (bridge device with non default name must be created manually)", br), fmt.Sprintf("create it first (ip link add %s type bridge), or remove \"bridge\"", br))
	}
	if c.rs.known("cluster-advertise") {
		if adv, off, ok := c.str("cluster-advertise"); ok && adv != "" {
			name, _, _ := strings.Cut(adv, ":")
			if net.ParseIP(name) == nil && !has[name] {
				c.fail("cluster-advertise", off, fmt.Sprintf("no network interface %s: discovery advertise parsing fails", name), "name an interface of this host or its IP address, or remove the legacy cluster-* keys")
			}
		}
	}
}

// storage: drivers and options that need a given backing file system.
func (c hostChecker) storage() {
	driver, off := c.storageDriver()
	root, _, _ := c.str("data-root")
	if root == "" {
		root = "/var/lib/docker"
	}
	fsType, err := c.h.FSType(root)
	if err != nil {
		return
	}
	switch driver {
	case "btrfs", "zfs":
		if fsType != driver {
			c.fail("storage-driver", off, fmt.Sprintf("the %s driver needs %s on %s, which is on %s (prerequisites for driver not satisfied)", driver, driver, root, fsType), fmt.Sprintf(`use "overlay2", or put the data-root on a %s file system`, driver))
		}
	}
	for _, n := range c.strings("storage-opts") {
		k, _, _ := strings.Cut(n.str, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "overlay2.size":
			if driver == "overlay2" && fsType != "xfs" {
				c.fail("storage-opts", n.off, fmt.Sprintf("storage option overlay2.size is only supported for backing file system XFS (mounted with pquota); %s is on %s", root, fsType), `remove "overlay2.size", or put the data-root on XFS mounted with -o pquota`)
			}
		case "size":
			if driver == "vfs" && fsType != "xfs" {
				c.fail("storage-opts", n.off, fmt.Sprintf("the vfs size option needs project quotas (XFS with pquota); %s is on %s", root, fsType), `remove "size", or put the data-root on XFS mounted with -o pquota`)
			}
		}
	}
}

// selinux: "selinux-enabled" on a host without SELinux does nothing.
func (c hostChecker) selinux() {
	if on, _ := c.boolean("selinux-enabled", false); on && !c.h.SELinux() {
		n := c.file("selinux-enabled")
		off := -1
		if n != nil {
			off = n.off
		}
		c.warn("selinux-enabled", off, "SELinux is not enabled on this host: dockerd starts and the setting has no effect (no container gets an SELinux label)", `remove "selinux-enabled", or enable SELinux on the host first`)
	}
}
