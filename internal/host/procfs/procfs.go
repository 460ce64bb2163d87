// Package procfs reads what liveswap needs from /proc: a process's stat
// line (parent, start time, state), its cgroup, command line, children and
// listening sockets, and the host's process table. A missing process is not an error: the
// callers ask about processes that may have just exited.
package procfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Root is the proc file system; tests point it at a fixture.
var Root = "/proc"

// Proc is what /proc/PID/stat says about a process right now.
type Proc struct {
	PID    int
	Exists bool   // false: no such process (the other fields are zero)
	State  byte   // R, S, Z, ...
	PPID   int    // parent
	PGRP   int    // process group
	Comm   string // the name between the parentheses
	Start  uint64 // start time in clock ticks since boot: with the PID, names one process
	Ticks  uint64 // utime+stime in clock ticks
}

// Stat reads /proc/PID/stat. Unlike the other readers, pid 0 is no
// process (a record whose pid was never set), not this one.
func Stat(pid int) (Proc, error) {
	if pid <= 0 {
		return Proc{}, nil
	}
	b, err := ReadFile(pid, "stat")
	if err != nil {
		if gone(err) {
			return Proc{}, nil
		}
		return Proc{}, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	p, err := ParseStat(string(b))
	p.PID = pid
	return p, err
}

// ParseStat parses one /proc/PID/stat line. The command name may hold
// spaces and parentheses, so fields are counted from the last ')'.
func ParseStat(s string) (Proc, error) {
	open := strings.IndexByte(s, '(')
	i := strings.LastIndexByte(s, ')')
	if i < 0 || open < 0 || open > i {
		return Proc{}, fmt.Errorf("malformed /proc stat line %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) == 0 {
		return Proc{}, fmt.Errorf("short /proc stat line %q", s)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Proc{}, fmt.Errorf("bad start time in /proc stat line: %w", err)
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return Proc{Exists: true, State: f[0][0], PPID: ppid, PGRP: pgrp, Comm: s[open+1 : i], Start: start, Ticks: ut + st}, nil
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	p, err := Stat(pid)
	return err == nil && p.Exists && p.State != 'Z' && p.State != 'X'
}

// PPID is pid's parent, 0 when unknown.
func PPID(pid int) int {
	p, _ := Stat(pid)
	return p.PPID
}

// StartTime is pid's start time in clock ticks since boot, 0 when gone.
func StartTime(pid int) uint64 {
	p, _ := Stat(pid)
	return p.Start
}

// Cmdline returns pid's arguments ("" words dropped at the end); nil when
// the process is gone or a kernel thread.
func Cmdline(pid int) []string {
	b, err := ReadFile(pid, "cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// Cgroup returns pid's cgroup v2 path, or on a v1 host the name=systemd
// path (the first v1 one when that is missing); pid 0 is this process.
func Cgroup(pid int) string {
	f, err := os.Open(path(pid, "cgroup"))
	if err != nil {
		return ""
	}
	defer f.Close()
	first := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return parts[2]
		}
		if first == "" || strings.Contains(parts[1], "name=systemd") {
			first = parts[2]
		}
	}
	return first
}

// Cgroups returns pid's path in every hierarchy (v1 controllers,
// name=systemd, unified), deduplicated; pid 0 is this process. Where a
// runtime placed a process differs between hierarchies on a hybrid host.
func Cgroups(pid int) []string {
	b, err := os.ReadFile(path(pid, "cgroup"))
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && !seen[parts[2]] {
			seen[parts[2]] = true
			out = append(out, parts[2])
		}
	}
	return out
}

// Link reads the symlink /proc/PID/NAME (exe, cwd, root, ns/pid, ...);
// pid 0 is this process.
func Link(pid int, name string) (string, error) {
	return os.Readlink(path(pid, name))
}

// ReadFile reads /proc/PID/NAME (mountinfo, status, ...); pid 0 is this
// process.
func ReadFile(pid int, name string) ([]byte, error) {
	return os.ReadFile(path(pid, name))
}

// Hostname is the kernel's host name as this process's UTS namespace sees
// it, "" when unreadable.
func Hostname() string {
	b, _ := os.ReadFile(filepath.Join(Root, "sys", "kernel", "hostname"))
	return strings.TrimSpace(string(b))
}

// Exists reports whether /proc/PID is visible here, zombies included: a
// process in another PID namespace is not.
func Exists(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.Stat(path(pid))
	return err == nil
}

// UID is the real user owning pid; false when the process is gone.
func UID(pid int) (int, bool) {
	fi, err := os.Stat(path(pid))
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// Children lists the processes whose parent is ppid. The kernel lists
// children per thread (a child belongs to the thread that forked it, and an
// orphan to whichever thread of a subreaper adopted it), so every thread's
// list is read; without those files (no CONFIG_PROC_CHILDREN) the whole
// table is scanned.
func Children(ppid int) []int {
	if kids, ok := taskChildren(ppid); ok {
		return kids
	}
	var out []int
	for _, pid := range PIDs() {
		if p, _ := Stat(pid); p.Exists && p.PPID == ppid {
			out = append(out, pid)
		}
	}
	return out
}

func taskChildren(ppid int) ([]int, bool) {
	tasks, err := os.ReadDir(path(ppid, "task"))
	if err != nil {
		return nil, false
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(path(ppid, "task", t.Name(), "children"))
		if err != nil {
			return nil, false
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out, true
}

// PIDs lists every process on the host.
func PIDs() []int {
	ents, _ := os.ReadDir(Root)
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// Parents maps every process on the host to its parent.
func Parents() map[int]int {
	out := map[int]int{}
	for _, pid := range PIDs() {
		if p, err := Stat(pid); err == nil && p.Exists {
			out[pid] = p.PPID
		}
	}
	return out
}

// Descendants returns root and every process below it in parents.
func Descendants(root int, parents map[int]int) map[int]bool {
	tree := map[int]bool{root: true}
	children := map[int][]int{}
	for pid, ppid := range parents {
		children[ppid] = append(children[ppid], pid)
	}
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			if !tree[c] {
				tree[c] = true
				queue = append(queue, c)
			}
		}
	}
	return tree
}

// path is Root/PID/elem...; pid 0 is "self".
func path(pid int, elem ...string) string {
	name := "self"
	if pid != 0 {
		name = strconv.Itoa(pid)
	}
	return filepath.Join(append([]string{Root, name}, elem...)...)
}

func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}
