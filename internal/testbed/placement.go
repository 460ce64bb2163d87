package testbed

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/liveswap/liveswap/internal/host/procfs"
)

// ContainerTree lists, from /proc and not from any daemon, the processes
// a container's shim holds: the shim (the parent of the container's main
// process pid) and every process below it, sorted.
func ContainerTree(pid int) []int {
	shim := procfs.PPID(pid)
	if shim <= 1 {
		return []int{pid}
	}
	var out []int
	for p := range procfs.Descendants(shim, procfs.Parents()) {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// AttachToUnit moves pids into unit's own cgroup with the manager's
// AttachProcessesToUnit: the placement of a runtime whose containers never
// left its unit, which a stop with KillMode=control-group kills. The
// manager migrates processes only into delegated units, so a drop-in gives
// the unit Delegate=yes first (as Docker's own unit has).
func (s *Systemd) AttachToUnit(t T, unit string, pids ...int) {
	t.Helper()
	dir := filepath.Join(s.UnitDir, unit+".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "delegate.conf"), []byte("[Service]\nDelegate=yes\n"), 0o644); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.Reload(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := make([]uint32, len(pids))
	for i, p := range pids {
		u[i] = uint32(p)
	}
	if err := s.Conn().AttachProcessesToUnit(ctx, unit, "", u); err != nil {
		t.Fatalf("testbed: attaching pids %v to %s: %v\nmanager log:\n%s", pids, unit, err, s.Log())
	}
}

// UnitOfPID names the unit whose cgroup holds pid, as the manager sees it.
func (s *Systemd) UnitOfPID(t T, pid int) string {
	t.Helper()
	name, err := s.Conn().GetUnitNameByPID(context.Background(), uint32(pid))
	if err != nil {
		t.Fatalf("testbed: unit of pid %d: %v", pid, err)
	}
	return name
}
