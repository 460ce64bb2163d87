package daemonjson

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// checkRuntime: dockerd 23 and newer configure a runtime either by "path"
// (a runc-compatible binary, with "runtimeArgs") or by "runtimeType" (a
// containerd shim, with "options"), never both.
func (c *checker) checkRuntime(m member) {
	has := map[string]*node{}
	for _, f := range m.val.members {
		has[strings.ToLower(f.key)] = f.val
	}
	str := func(k string) string {
		if n := has[k]; n != nil && n.kind == kString {
			return n.str
		}
		return ""
	}
	path, typ := str("path"), str("runtimetype")
	fail := func(msg, remedy string) {
		c.fail("runtimes", m.keyOff, fmt.Sprintf("runtime %s: %s", m.key, msg), remedy)
	}
	nonEmpty := func(k string) bool {
		n := has[k]
		return n != nil && ((n.kind == kArray && len(n.elems) > 0) || (n.kind == kObject && len(n.members) > 0))
	}
	switch {
	case path != "" && typ != "":
		fail("cannot configure both path and runtimeType for the same runtime", `keep "path" for a runc-compatible binary, or "runtimeType" (with "options") for a containerd shim`)
	case path == "" && typ == "":
		fail("either a runtimeType or a path must be configured", `set "path" to the runtime binary, e.g. "/usr/bin/crun"`)
	case typ != "" && nonEmpty("runtimeargs"):
		fail("args cannot be used with a runtimeType runtime", `move the arguments into "options" (e.g. "BinaryName"), or use "path" with "runtimeArgs"`)
	case path != "" && nonEmpty("options"):
		fail("options cannot be used with a path runtime", `use "runtimeType": "io.containerd.runc.v2" with "options" (e.g. {"BinaryName": "`+path+`"}) instead of "path"`)
	}
}

// checkDaemonPaths: values that are paths or special words, per release.
func (c *checker) checkDaemonPaths() {
	// The path is only checked when the proxy is used.
	proxy, _ := c.boolean("userland-proxy", true)
	if v, off, ok := c.str("userland-proxy-path"); ok && proxy && v != "" && c.modern() && !filepath.IsAbs(v) {
		c.fail("userland-proxy-path", off, fmt.Sprintf("invalid userland-proxy-path: must be an absolute path: %s", v), `write the full path, e.g. "/usr/sbin/docker-proxy"`)
	}
	if v, off, ok := c.str("data-root"); ok && v != "" && !filepath.IsAbs(v) && !c.modern() {
		c.fail("data-root", off, fmt.Sprintf("data-root %q is relative: dockerd 20.10 never finishes starting with it (it hangs; 23 and newer make it absolute)", v), `write an absolute path, e.g. "/var/lib/docker"`)
	}
	if v, off, ok := c.str("seccomp-profile"); ok && !c.modern() && (v == "unconfined" || v == "builtin") {
		c.fail("seccomp-profile", off, fmt.Sprintf("%q is read as a file name by dockerd 20.10 (open %s: no such file or directory); it is a special value from 23 on", v, v),
			`remove the key for the built-in profile; for no seccomp use --security-opt seccomp=unconfined per container`)
	}
}

// checkMetricsAddr: the metrics listener is HOST:PORT.
func (c *checker) checkMetricsAddr() {
	if v, off, ok := c.str("metrics-addr"); ok && v != "" {
		if _, _, err := net.SplitHostPort(v); err != nil {
			c.fail("metrics-addr", off, fmt.Sprintf("failed to start metrics server: %v", err), `write "HOST:PORT", e.g. "127.0.0.1:9323"`)
		}
	}
}

// checkBuilderSizes: the builder's GC sizes are parsed when the daemon
// starts its builder.
func (c *checker) checkBuilderSizes() {
	b := c.file("builder")
	if b == nil || b.kind != kObject {
		return
	}
	for _, m := range b.members {
		if !strings.EqualFold(m.key, "gc") || m.val.kind != kObject {
			continue
		}
		for _, g := range m.val.members {
			if strings.EqualFold(g.key, "defaultKeepStorage") && g.val.kind == kString && g.val.str != "" {
				if _, err := ramInBytes(g.val.str); err != nil {
					c.fail("builder", g.val.off, fmt.Sprintf("could not parse %q as Builder.GC.DefaultKeepStorage: invalid size", g.val.str), `write a size such as "20GB"`)
				}
			}
		}
	}
}

// fluentdAddress mirrors the fluentd driver's address parsing.
func fluentdAddress(a string) error {
	if a == "" || !strings.Contains(a, "://") {
		return nil
	}
	u, err := url.Parse(a)
	if err != nil {
		return fmt.Errorf("invalid fluentd-address (%s): %v", a, err)
	}
	switch u.Scheme {
	case "tcp", "tls", "unix":
		return nil
	}
	return fmt.Errorf("invalid fluentd-address (%s): unsupported scheme %q", a, u.Scheme)
}
