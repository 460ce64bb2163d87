package testbed

import (
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/liveswap/liveswap/internal/host/procfs"
)

// sweep kills every process still tied to dir — its command line, root or
// working directory lies inside it — together with their descendants. It is
// the last line of cleanup: a test that stopped what it started finds
// nothing here.
func sweep(t T, dir string) {
	t.Helper()
	for round := 0; round < 3; round++ {
		pids := tiedTo(dir)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			t.Logf("testbed: killing leftover pid %d (%s)", pid, cmdline(pid))
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tiedTo lists processes inside dir and all their descendants.
func tiedTo(dir string) []int {
	parents := procfs.Parents()
	hit := map[int]bool{}
	for pid := range parents {
		if pid == os.Getpid() || hit[pid] {
			continue
		}
		if strings.Contains(cmdline(pid), dir) || linkIn(pid, "root", dir) || linkIn(pid, "cwd", dir) {
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

func linkIn(pid int, name, dir string) bool {
	l, err := procfs.Link(pid, name)
	return err == nil && (l == dir || strings.HasPrefix(l, dir+"/"))
}
