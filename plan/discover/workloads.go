package discover

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/plan"
)

// Workloads proposes a probe for every TCP port a running
// container's processes listen on: HTTP for nginx, Redis for redis-server,
// a TCP connect for anything else. It reads the listening sockets of each
// container's process tree from /proc, so it sees what a port scan would
// not: which container owns which port.
func Workloads(ctx context.Context, c engine.Engine) ([]plan.Workload, error) {
	list, err := c.Running(ctx)
	if err != nil {
		return nil, err
	}
	procs := procfs.Parents()
	var out []plan.Workload
	for _, sum := range list {
		in, err := c.Inspect(ctx, sum.ID)
		if err != nil || in.State == nil || in.State.Pid == 0 {
			continue
		}
		name := strings.TrimPrefix(in.Name, "/")
		seen := map[int]bool{}
		for _, l := range listeners(in.State.Pid, procs) {
			if seen[l.port] {
				continue
			}
			seen[l.port] = true
			out = append(out, proposeProbe(name, l))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Container != out[j].Container {
			return out[i].Container < out[j].Container
		}
		return out[i].Address < out[j].Address
	})
	return out, nil
}

// listener is a listening TCP socket and the process that holds it.
type listener struct {
	ip   netip.Addr
	port int
	comm string
}

func proposeProbe(container string, l listener) plan.Workload {
	host := l.ip.String()
	if l.ip.IsUnspecified() {
		host = "127.0.0.1"
		if !l.ip.Is4() {
			host = "::1"
		}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(l.port))
	w := plan.Workload{Container: container, Probe: probe.TCP, Address: addr, Interval: plan.Duration(20 * time.Millisecond)}
	switch l.comm {
	case "nginx", "httpd", "apache2", "caddy":
		w.Probe, w.Address = probe.HTTP, "http://"+addr+"/"
	case "redis-server":
		w.Probe = probe.Redis
	}
	return w
}

// listeners returns the listening sockets held by pid and its descendants.
func listeners(root int, procs map[int]int) []listener {
	var out []listener
	for pid := range procfs.Descendants(root, procs) {
		socks := procfs.Listeners(pid)
		if len(socks) == 0 {
			continue
		}
		p, _ := procfs.Stat(pid)
		for _, s := range socks {
			out = append(out, listener{ip: s.IP, port: s.Port, comm: p.Comm})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].port < out[j].port })
	return out
}
