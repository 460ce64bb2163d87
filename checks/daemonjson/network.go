package daemonjson

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// The checks in this file were learned from real starts (testdata/corpus,
// verdicts of 20.10.5, 20.10.24 and 26.1.5): values that dockerd accepts
// while loading the file and refuses later, when it creates the default
// bridge, its registry service, its listeners or its storage driver.

// bridgeCreated reports whether dockerd creates the default bridge, where
// the bip, fixed-cidr, gateway and MTU values are finally checked.
func (c *checker) bridgeCreated() bool {
	br, _, _ := c.str("bridge")
	return br != "none"
}

// checkDefaultBridge mirrors libnetwork's creation of the default bridge
// network from "bip", "fixed-cidr", "default-gateway", "ipv6",
// "fixed-cidr-v6", "default-gateway-v6" and "mtu".
func (c *checker) checkDefaultBridge() {
	if !c.bridgeCreated() {
		return
	}
	var bipNet *net.IPNet
	if bip, off, ok := c.str("bip"); ok && bip != "" {
		ip, n, err := net.ParseCIDR(bip)
		switch {
		case err != nil:
			c.fail("bip", off, fmt.Sprintf("invalid CIDR address: %s (dockerd fails creating the default bridge)", bip), `write the bridge's own address with its prefix, e.g. "10.99.0.1/24"`)
		case ip.To4() == nil:
			c.fail("bip", off, fmt.Sprintf("%s is an IPv6 address: the default bridge's bip is IPv4 (dockerd exits)", bip), `use an IPv4 address with prefix, e.g. "10.99.0.1/24"; IPv6 goes in "fixed-cidr-v6"`)
		case ip.Equal(n.IP):
			c.fail("bip", off, fmt.Sprintf("%s is the network's own address: dockerd fails to allocate it as the gateway (Address already in use)", bip), fmt.Sprintf(`use a host address of the network, e.g. "%s"`, nextIP(n.IP).String()+"/"+strings.SplitN(bip, "/", 2)[1]))
		default:
			bipNet = n
		}
	}
	if fc, off, ok := c.str("fixed-cidr"); ok && fc != "" {
		if _, _, err := net.ParseCIDR(fc); err != nil {
			c.fail("fixed-cidr", off, fmt.Sprintf("invalid CIDR address: %s (dockerd fails creating the default bridge)", fc), `write a subnet of the bridge, e.g. "172.17.1.0/24"`)
		}
	}
	if gw, off, ok := c.str("default-gateway"); ok && gw != "" && bipNet != nil {
		if ip := net.ParseIP(gw); ip != nil && !bipNet.Contains(ip) {
			c.fail("default-gateway", off, fmt.Sprintf("auxiliary address %s must belong to the bridge's network %s (dockerd fails creating the default bridge)", gw, bipNet), `use an address inside "bip"'s network, or remove "default-gateway"`)
		}
	}
	c.checkIPv6Bridge()
	if v, off, ok := c.intVal("mtu"); ok && c.modern() && v != 0 && (v < 68 || v > 65535) && v >= 0 {
		c.fail("mtu", off, fmt.Sprintf("MTU %d is out of the kernel's range (68 to 65535): dockerd fails creating the default bridge (invalid argument)", v), "use the MTU of the host's uplink, usually 1500 (or 1450 on overlay networks)")
	}
}

func (c *checker) checkIPv6Bridge() {
	ipv6, _ := c.boolean("ipv6", false)
	cidr, off, set := c.str("fixed-cidr-v6")
	var pfx netip.Prefix
	if set && cidr != "" {
		p, err := netip.ParsePrefix(cidr)
		if _, _, err2 := net.ParseCIDR(cidr); err != nil || err2 != nil {
			if c.modern() || ipv6 {
				c.fail("fixed-cidr-v6", off, fmt.Sprintf("invalid CIDR address: %s", cidr), `write an IPv6 subnet, e.g. "fd00:1::/64"`)
			}
			return
		}
		if !p.Addr().Is6() || p.Addr().Is4In6() {
			if c.modern() {
				c.fail("fixed-cidr-v6", off, fmt.Sprintf("invalid fixed-cidr-v6: %s is not an IPv6 subnet", cidr), `write an IPv6 subnet, e.g. "fd00:1::/64"`)
			}
			return
		}
		pfx = p.Masked()
	}
	if !ipv6 {
		return
	}
	if !pfx.IsValid() && !c.rs.v.atLeast(27, 0) {
		n := c.file("ipv6")
		c.fail("ipv6", n.off, "IPv6 is enabled for the default bridge, but no subnet is configured (dockerd before 27 fails creating it)", `set "fixed-cidr-v6" to an IPv6 subnet, e.g. "fd00:1::/64"`)
		return
	}
	if gw, goff, ok := c.str("default-gateway-v6"); ok && gw != "" && pfx.IsValid() {
		if a, err := netip.ParseAddr(gw); err == nil && a == pfx.Addr().Next() {
			c.fail("default-gateway-v6", goff, fmt.Sprintf("%s is the address dockerd gives the bridge itself: it fails to allocate it again (Address already in use)", gw), `remove "default-gateway-v6" (the bridge's address is the default) or use another address of the subnet`)
		}
	}
}

func nextIP(ip net.IP) net.IP {
	out := append(net.IP(nil), ip.To4()...)
	if out == nil {
		out = append(net.IP(nil), ip...)
	}
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			break
		}
	}
	return out
}

// domainRE is distribution/reference's domain: components of letters,
// digits and inner dashes, separated by dots, with an optional port.
var registryHostRE = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$`)

// checkRegistries mirrors the registry service's option validation:
// mirrors are http(s) URLs without credentials, query or fragment (and,
// before 23, without a path); insecure registries are a CIDR or host[:port].
func (c *checker) checkRegistries() {
	for _, n := range c.strings("registry-mirrors") {
		if msg := mirrorError(n.str, c.modern()); msg != "" {
			c.fail("registry-mirrors", n.off, "invalid mirror: "+msg, `write the mirror as a URL with its scheme, e.g. "https://mirror.gcr.io"`+map[bool]string{false: " (dockerd 20.10 takes no path: host and port only)", true: ""}[c.modern()])
		}
	}
	for _, n := range c.strings("insecure-registries") {
		if msg := insecureError(n.str); msg != "" {
			c.fail("insecure-registries", n.off, fmt.Sprintf("insecure registry %s is not valid: %s", n.str, msg), `list "host:port" (e.g. "registry.local:5000") or a CIDR (e.g. "10.0.0.0/8"); no path, no wildcard`)
		}
	}
}

func mirrorError(val string, modern bool) string {
	u, err := url.Parse(val)
	if err != nil {
		return fmt.Sprintf("%q is not a valid URI", val)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("unsupported scheme %q in %q: the scheme (https://) is required", u.Scheme, val)
	}
	if u.User != nil {
		return "username/password not allowed in URI"
	}
	if modern {
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Sprintf("query or fragment at end of the URI %q", val)
		}
		return ""
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("path, query, or fragment at end of the URI %q (dockerd 23 and newer accept a path)", val)
	}
	return ""
}

func insecureError(r string) string {
	low := strings.ToLower(r)
	if strings.HasPrefix(low, "http://") {
		r = r[len("http://"):]
	} else if strings.HasPrefix(low, "https://") {
		r = r[len("https://"):]
	}
	if _, _, err := net.ParseCIDR(r); err == nil {
		return ""
	}
	host, port, err := net.SplitHostPort(r)
	if err != nil {
		host, port = r, ""
	}
	if !registryHostRE.MatchString(r) && net.ParseIP(host) == nil {
		return fmt.Sprintf("invalid host %q", host)
	}
	if port != "" {
		if v, err := strconv.Atoi(port); err != nil || v < 0 || v > 65535 {
			return fmt.Sprintf("invalid port %q", port)
		}
	}
	return ""
}
