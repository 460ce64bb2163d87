package engine

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Endpoint is where an engine API listens, in the forms dockerd's -H takes.
type Endpoint struct {
	Scheme  string // "unix" or "tcp"
	Address string // unix: the socket's absolute path; tcp: host:port
}

func (e Endpoint) String() string { return e.Scheme + "://" + e.Address }

// ParseEndpoint reads unix:///path/to/socket or tcp://host:port. The error
// names both forms, so every flag and plan field that takes an endpoint
// teaches the same thing.
func ParseEndpoint(s string) (Endpoint, error) {
	scheme, addr, ok := strings.Cut(s, "://")
	ep := Endpoint{Scheme: scheme, Address: addr}
	switch {
	case !ok:
	case scheme == "unix" && strings.HasPrefix(addr, "/") && len(addr) > 1:
		return ep, nil
	case scheme == "tcp":
		host, port, err := net.SplitHostPort(addr)
		if _, perr := strconv.ParseUint(port, 10, 16); err == nil && perr == nil && host != "" {
			return ep, nil
		}
	}
	return Endpoint{}, fmt.Errorf("endpoint %q: use unix:///path/to/socket or tcp://host:port", s)
}
