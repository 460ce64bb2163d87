package testbed

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/liveswap/liveswap/internal/host/procfs"
)

// exitGrace is how long processes tied to a folder may take to go once the
// cleanups that stop them returned: a container's shim exits just after
// `docker rm` answers. It is a deadline for a condition, not a wait: a test
// that left nothing running does not wait at all.
const exitGrace = 5 * time.Second

// sweep is the last line of cleanup. Every process still tied to dir — its
// command line names a path inside dir, or its root or working directory
// lies inside it — once exitGrace has passed is a leak: it is killed with
// its descendants, and returned, so that the test that leaked fails.
func sweep(dir string) (leaked []string) {
	deadline := time.Now().Add(exitGrace)
	for len(tiedTo(dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for round := 0; round < 3; round++ {
		pids := tiedTo(dir)
		if len(pids) == 0 {
			return leaked
		}
		for _, pid := range pids {
			leaked = append(leaked, fmt.Sprintf("pid %d (%s)", pid, cmdline(pid)))
			syscall.Kill(pid, syscall.SIGKILL)
		}
		gone := time.Now().Add(2 * time.Second)
		for len(tiedTo(dir)) > 0 && time.Now().Before(gone) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return leaked
}

// tiedTo lists processes inside dir and all their descendants.
func tiedTo(dir string) []int {
	parents := procfs.Parents()
	hit := map[int]bool{}
	for pid := range parents {
		if pid == os.Getpid() || hit[pid] {
			continue
		}
		if namesPathIn(cmdline(pid), dir) || linkIn(pid, "root", dir) || linkIn(pid, "cwd", dir) {
			// Descendants too: container processes started by a shim name
			// no path.
			for d := range procfs.Descendants(pid, parents) {
				hit[d] = true
			}
		}
	}
	var out []int
	for pid := range hit {
		out = append(out, pid)
	}
	return out
}

func cmdline(pid int) string { return strings.Join(procfs.Cmdline(pid), " ") }

// namesPathIn reports whether s holds dir or a path inside it: /tmp/lsd-12
// is not inside /tmp/lsd-1, which another test may own.
func namesPathIn(s, dir string) bool {
	for i := strings.Index(s, dir); i >= 0; {
		end := i + len(dir)
		if end == len(s) || !pathChar(s[end]) {
			return true
		}
		next := strings.Index(s[end:], dir)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}

// pathChar: a byte that continues a file name.
func pathChar(b byte) bool {
	return b == '-' || b == '_' || b == '.' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func linkIn(pid int, name, dir string) bool {
	l, err := procfs.Link(pid, name)
	return err == nil && (l == dir || strings.HasPrefix(l, dir+"/"))
}
