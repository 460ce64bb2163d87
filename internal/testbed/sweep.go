package testbed

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	procs := listProcs()
	hit := map[int]bool{}
	for pid := range procs {
		if pid == os.Getpid() {
			continue
		}
		if strings.Contains(cmdline(pid), dir) || linkIn(pid, "root", dir) || linkIn(pid, "cwd", dir) {
			hit[pid] = true
		}
	}
	// Descendants too: container processes started by a shim name no path.
	for changed := true; changed; {
		changed = false
		for pid, ppid := range procs {
			if !hit[pid] && hit[ppid] {
				hit[pid] = true
				changed = true
			}
		}
	}
	var out []int
	for pid := range hit {
		out = append(out, pid)
	}
	return out
}

// listProcs maps every pid to its parent pid.
func listProcs() map[int]int {
	ents, _ := os.ReadDir("/proc")
	out := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		out[pid] = parentPID(pid)
	}
	return out
}

func parentPID(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

func linkIn(pid int, name, dir string) bool {
	l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), name))
	return err == nil && (l == dir || strings.HasPrefix(l, dir+"/"))
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}
