package discover

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
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
	procs := processTable()
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
	ip   net.IP
	port int
	comm string
}

func proposeProbe(container string, l listener) plan.Workload {
	host := l.ip.String()
	if l.ip.IsUnspecified() {
		host = "127.0.0.1"
		if l.ip.To4() == nil {
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

// processTable maps every pid to its parent.
func processTable() map[int]int {
	ents, _ := os.ReadDir("/proc")
	out := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 {
			out[pid], _ = strconv.Atoi(f[1])
		}
	}
	return out
}

// listeners returns the listening sockets held by pid and its descendants.
func listeners(root int, procs map[int]int) []listener {
	tree := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		for pid, ppid := range procs {
			if !tree[pid] && tree[ppid] {
				tree[pid], changed = true, true
			}
		}
	}
	var out []listener
	for pid := range tree {
		inodes := socketInodes(pid)
		if len(inodes) == 0 {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		for _, f := range []string{"tcp", "tcp6"} {
			fh, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, f))
			if err != nil {
				continue
			}
			for _, s := range parseListening(fh) {
				if inodes[s.inode] {
					out = append(out, listener{ip: s.ip, port: s.port, comm: strings.TrimSpace(string(comm))})
				}
			}
			fh.Close()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].port < out[j].port })
	return out
}

// socketInodes lists the socket inodes pid has open.
func socketInodes(pid int) map[string]bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			out[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	return out
}

type tcpSocket struct {
	ip    net.IP
	port  int
	inode string
}

// parseListening reads /proc/net/tcp{,6} and keeps LISTEN (0A) sockets.
func parseListening(r io.Reader) []tcpSocket {
	var out []tcpSocket
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		ipHex, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			continue
		}
		ip, err := procIP(ipHex)
		if err != nil {
			continue
		}
		out = append(out, tcpSocket{ip: ip, port: int(port), inode: f[9]})
	}
	return out
}

// procIP decodes the kernel's hex address: 32-bit words in host (little
// endian) order.
func procIP(h string) (net.IP, error) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("bad address %q", h)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), nil
}
