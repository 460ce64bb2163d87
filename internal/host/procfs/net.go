package procfs

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Socket is a TCP socket from /proc/PID/net/tcp{,6}. Its address is a
// netip.Addr, not a net.IP: package net would link libc into every program
// that reads /proc, the per-container shim included.
type Socket struct {
	IP    netip.Addr
	Port  int
	Inode string // the n of the socket:[n] links in /proc/PID/fd
}

// Listeners returns the listening TCP sockets pid holds open. The net files
// list the whole network namespace, so they are matched against pid's own
// file descriptors.
func Listeners(pid int) []Socket {
	inodes := SocketInodes(pid)
	if len(inodes) == 0 {
		return nil
	}
	var out []Socket
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(path(pid, "net", name))
		if err != nil {
			continue
		}
		for _, s := range ParseListening(f) {
			if inodes[s.Inode] {
				out = append(out, s)
			}
		}
		f.Close()
	}
	return out
}

// SocketInodes lists the inodes of the sockets pid has open.
func SocketInodes(pid int) map[string]bool {
	dir := path(pid, "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if n, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			out[strings.TrimSuffix(n, "]")] = true
		}
	}
	return out
}

// ParseListening reads a /proc/net/tcp{,6} table and keeps the LISTEN (0A)
// sockets.
func ParseListening(r io.Reader) []Socket {
	var out []Socket
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
		ip, err := hexIP(ipHex)
		if err != nil {
			continue
		}
		out = append(out, Socket{IP: ip, Port: int(port), Inode: f[9]})
	}
	return out
}

// hexIP decodes the kernel's hex address: 32-bit words in host (little
// endian) order.
func hexIP(h string) (netip.Addr, error) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.Addr{}, fmt.Errorf("bad address %q", h)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	ip, _ := netip.AddrFromSlice(b)
	return ip.Unmap(), nil // ::ffff:a.b.c.d is a.b.c.d, as net.IP prints it
}
