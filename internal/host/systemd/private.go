package systemd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// systemdBin is systemd's manager binary on Debian.
const systemdBin = "/usr/lib/systemd/systemd"

// PrivateManager is a systemd user manager run as root in a private mount
// namespace, for hosts where systemd is not PID 1 (containers, CI): the demo
// and the end-to-end tests run the daemons they upgrade under it. Everything
// of it lives in Dir.
type PrivateManager struct {
	Dir        string
	RuntimeDir string // XDG_RUNTIME_DIR: bus, systemd/private
	UnitDir    string // unit files go here
	// Cgroup is the manager's own cgroup subtree (e.g. /liveswap-mgr-x1y2):
	// its units live below it, so managers on one host never share a
	// unit's cgroup, even with the same unit names ("" when the host's
	// cgroup file system could not be written).
	Cgroup     string
	cgroupDirs []string
	cmd        *exec.Cmd
	exited     chan error
	log        string
}

// SystemdIsPID1 reports whether the host is booted with systemd.
func SystemdIsPID1() bool {
	_, err := os.Stat("/run/systemd/system")
	comm, _ := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(comm)) == "systemd"
}

// StartPrivateManager starts a manager in dir and waits for its socket.
// setup are shell commands run in the manager's mount namespace before it
// starts (mounts that give its units a host of their own).
func StartPrivateManager(dir string, setup ...string) (*PrivateManager, error) {
	m := &PrivateManager{
		Dir:        dir,
		RuntimeDir: filepath.Join(dir, "run"),
		UnitDir:    filepath.Join(dir, "cfg", "systemd", "user"),
		log:        filepath.Join(dir, "manager.log"),
		exited:     make(chan error, 1),
	}
	for _, d := range []string{m.RuntimeDir, m.UnitDir, filepath.Join(dir, "data"), filepath.Join(dir, "state"), filepath.Join(dir, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	logf, err := os.Create(m.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// The manager roots its units in its own cgroup: started in the host's,
	// two managers put a unit of the same name (and their dbus.service) in
	// one cgroup, and stopping one kills the other's processes.
	join := ""
	reapStale()
	m.Cgroup, m.cgroupDirs = makeCgroup(mgrPrefix + filepath.Base(dir))
	for _, d := range m.cgroupDirs {
		join += "echo $$ > " + filepath.Join(d, "cgroup.procs") + " && "
	}
	// /run/systemd/system must exist for systemd to believe it manages
	// units; a tmpfs in a private namespace keeps the host's /run intact.
	inner := "mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && "
	if len(setup) > 0 {
		inner = strings.Join(setup, " && ") + " && " + inner
	}
	m.cmd = exec.Command("sh", "-c", join+"exec unshare -m --propagation private sh -c '"+inner+"exec "+systemdBin+" --user'")
	m.cmd.Env = append(envWithout(os.Environ(), "DBUS_SESSION_BUS_ADDRESS", "NOTIFY_SOCKET", "INVOCATION_ID", "MANAGERPID"),
		"XDG_RUNTIME_DIR="+m.RuntimeDir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
	)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	// Own session, so a terminal's ^C does not reach it directly; SIGTERM
	// (stop every unit, then exit) if its parent dies without stopping it.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting systemd --user: %w", err)
	}
	go func() { m.exited <- m.cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// The socket file appears at bind(), before the manager listens:
		// only a connection that succeeds means it is ready.
		if c, err := net.Dial("unix", m.PrivateSocket()); err == nil {
			c.Close()
			return m, nil
		}
		select {
		case err := <-m.exited:
			m.exited <- err
			return nil, fmt.Errorf("systemd --user exited: %v\n%s", err, m.Log())
		default:
		}
		if time.Now().After(deadline) {
			m.Stop(5 * time.Second)
			return nil, fmt.Errorf("systemd --user did not create %s in 15s\n%s", m.PrivateSocket(), m.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PID is the manager's process: /proc/PID/root is its view of the files,
// /proc/PID/ns/mnt its mount namespace.
func (m *PrivateManager) PID() int { return m.cmd.Process.Pid }

// PrivateSocket is the manager's private D-Bus socket.
func (m *PrivateManager) PrivateSocket() string {
	return filepath.Join(m.RuntimeDir, "systemd", "private")
}

// Connect opens a go-systemd connection to it.
func (m *PrivateManager) Connect(ctx context.Context) (*Manager, error) {
	socket := m.PrivateSocket()
	dial := func() (*sdbus.Conn, error) { return DialPrivate(ctx, socket) }
	c, err := dial()
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", socket, err)
	}
	return NewManager(User, c, dial), nil
}

// Env is what another process needs to reach it as `--systemd user`.
func (m *PrivateManager) Env() []string {
	return []string{
		"XDG_RUNTIME_DIR=" + m.RuntimeDir,
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(m.RuntimeDir, "bus"),
	}
}

// Log returns the tail of the manager's own output.
func (m *PrivateManager) Log() string {
	b, _ := os.ReadFile(m.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop asks the manager to stop every unit and exit (SIGTERM starts
// exit.target in a user manager); after timeout it is killed.
//
// Processes its units left behind (KillMode=process leaves a daemon's
// containers and shims) are killed then, found by the manager's own cgroup,
// and named in the error: everything started under a private manager ends
// with it.
func (m *PrivateManager) Stop(timeout time.Duration) error {
	var err error
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(timeout):
		m.cmd.Process.Kill()
		<-m.exited
		err = errors.New("systemd --user did not exit in time; killed")
	}
	if left := endCgroup(strings.TrimPrefix(m.Cgroup, "/")); len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("killed what its units left running: %s", strings.Join(left, "; ")))
	}
	return err
}

// cgroupRoot is the cgroup file system.
const cgroupRoot = "/sys/fs/cgroup"

// mgrPrefix names the cgroups of private managers: liveswap's own mark.
const mgrPrefix = "liveswap-mgr-"

// makeCgroup creates name in the hierarchies systemd uses: the unified one
// on a cgroup v2 host; name=systemd and the empty unified one on a hybrid
// host. It returns the cgroup path and the folders made, none when the
// file system cannot be written.
func makeCgroup(name string) (string, []string) {
	hierarchies := []string{cgroupRoot}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		hierarchies = []string{filepath.Join(cgroupRoot, "systemd"), filepath.Join(cgroupRoot, "unified")}
	}
	var dirs []string
	for _, h := range hierarchies {
		if _, err := os.Stat(h); err != nil {
			continue
		}
		d := filepath.Join(h, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			for _, made := range dirs {
				os.Remove(made)
			}
			return "", nil
		}
		dirs = append(dirs, d)
	}
	if len(dirs) == 0 {
		return "", nil
	}
	return "/" + name, dirs
}

// subtrees lists name's folders in every hierarchy: the manager's own and
// those its units made (a dockerd whose cgroup-parent is below the manager
// makes one in each v1 controller).
func subtrees(name string) []string {
	if name == "" {
		return nil
	}
	var out []string
	for _, d := range append([]string{filepath.Join(cgroupRoot, name)}, globDirs(filepath.Join(cgroupRoot, "*", name))...) {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

func globDirs(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// procsIn lists the processes in the subtrees.
func procsIn(dirs []string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && e.Name() == "cgroup.procs" {
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
						seen[pid] = true
						pids = append(pids, pid)
					}
				}
			}
			return nil
		})
	}
	return pids
}

// endCgroup SIGKILLs every process of the manager's cgroup name, in every
// hierarchy, waits for them to go and removes the folders; it returns what
// it killed.
func endCgroup(name string) []string {
	var killed []string
	for round := 0; round < 50; round++ {
		pids := procsIn(subtrees(name))
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if round == 0 {
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				killed = append(killed, fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))))
			}
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, d := range subtrees(name) {
		var all []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			os.Remove(all[i])
		}
	}
	return killed
}

// reapStale ends the cgroups of private managers that died without
// stopping (killed with their parent), in every hierarchy: no manager left
// in them, made more than a minute ago, so one that is starting is left
// alone.
func reapStale() {
	seen := map[string]bool{}
	for _, d := range append(globDirs(filepath.Join(cgroupRoot, mgrPrefix+"*")), globDirs(filepath.Join(cgroupRoot, "*", mgrPrefix+"*"))...) {
		name := filepath.Base(d)
		if seen[name] {
			continue
		}
		seen[name] = true
		st, err := os.Stat(d)
		if err != nil || time.Since(st.ModTime()) < time.Minute {
			continue
		}
		alive := false
		for _, h := range []string{filepath.Join(cgroupRoot, "systemd"), filepath.Join(cgroupRoot, "unified"), cgroupRoot} {
			b, _ := os.ReadFile(filepath.Join(h, name, "init.scope", "cgroup.procs"))
			alive = alive || len(strings.TrimSpace(string(b))) > 0
		}
		if !alive {
			endCgroup(name)
		}
	}
}

func envWithout(env []string, keys ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, k := range keys {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
