package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/internal/host/procfs"
)

// StackOptions name the real Debian releases a host runs.
type StackOptions struct {
	Docker     Release        // docker.io: dockerd, docker.service, docker.socket
	Containerd Release        // containerd: containerd, its shims, containerd.service
	Runc       Release        // runc; zero keeps the host's
	Daemon     map[string]any // /etc/docker/daemon.json keys beside the testbed's own; nil removes one
	// Packages installs Docker and Containerd as packages, with the real
	// dpkg and maintainer scripts, into the namespace's own copy of /usr,
	// /etc, /var/lib (dpkg's database) and /var/log; the units are the
	// packages' unit files (packages.go).
	Packages bool
}

// Stack is the Docker stack as Debian ships it — docker.socket,
// docker.service (`dockerd -H fd:// --containerd=...`) and
// containerd.service, the packages' unit files unchanged — run under a
// private systemd manager whose mount namespace is a host of its own:
// /usr/sbin, /usr/bin, /etc and /var/lib are overlays whose changes land in
// the test's folder, and /run is private. liveswap is run inside that
// namespace (Liveswap), so it sees and swaps /usr/sbin/dockerd as on a
// real host; the host's own files are never touched.
type Stack struct {
	*Systemd
	Dir  string
	Root string // the namespace's files seen from outside: /proc/PID/root
	Host string // docker.sock for the docker CLI witness, from outside
}

// Unit names, as the packages ship them.
const (
	DockerUnit     = "docker.service"
	DockerSocket   = "docker.socket"
	ContainerdUnit = "containerd.service"
)

// overlays are the host folders the stack's namespace gets copy-on-write.
var overlays = []string{"/usr/sbin", "/usr/bin", "/etc", "/var/lib"}

// StartStack installs the releases into a fresh namespace, starts
// containerd.service and docker.service, and waits for the API. Cleanup
// removes every container, stops the units and kills whatever is left in
// the manager's cgroup.
func StartStack(t Skipper, o StackOptions) *Stack {
	t.Helper()
	Require(t, DockerBin)
	dir := shortDir(t, "lsk-")
	var setup []string
	setup = append(setup, "mount -t tmpfs -o mode=0755 tmpfs /run")
	overlays := overlays
	if o.Packages {
		overlays = packageOverlays
	}
	for i, lower := range overlays {
		up, work := filepath.Join(dir, "up", strconv.Itoa(i)), filepath.Join(dir, "work", strconv.Itoa(i))
		mustMkdir(t, up, work)
		setup = append(setup, fmt.Sprintf("mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s", lower, up, work, lower))
	}
	// Data roots on the test's own file system, not on an overlay, so
	// dockerd and containerd can use overlay snapshots inside them.
	for _, lib := range []string{"docker", "containerd"} {
		src := filepath.Join(dir, "lib", lib)
		mustMkdir(t, src)
		setup = append(setup, "mkdir -p /var/lib/"+lib, "mount --bind "+src+" /var/lib/"+lib)
	}
	st := &Stack{Dir: dir}
	upper := func(path string) string { // where a file of the namespace is written before it starts
		for i, lower := range overlays {
			if rel, ok := strings.CutPrefix(path, lower+"/"); ok {
				return filepath.Join(dir, "up", strconv.Itoa(i), rel)
			}
		}
		t.Fatalf("testbed: %s is on no overlay", path)
		return ""
	}
	install := func(r Release, files ...string) {
		for _, f := range files {
			if _, err := os.Stat(r.Path(f)); err != nil {
				continue // not in every release (containerd-shim v1, docker-proxy)
			}
			dst := upper("/" + f)
			mustMkdir(t, filepath.Dir(dst))
			if err := copyFile(r.Path(f), dst); err != nil {
				t.Fatalf("testbed: installing %s %s: %v", r.Package, f, err)
			}
		}
	}
	if !o.Packages {
		install(o.Docker, "usr/sbin/dockerd", "usr/sbin/docker-proxy", "usr/sbin/docker-init")
		install(o.Containerd, "usr/bin/containerd", "usr/bin/containerd-shim", "usr/bin/containerd-shim-runc-v1", "usr/bin/containerd-shim-runc-v2", "usr/bin/ctr")
		if o.Runc.Root != "" {
			install(o.Runc, "usr/sbin/runc")
		}
	}

	st.Systemd = startSystemd(t, dir, setup...)
	st.Root = fmt.Sprintf("/proc/%d/root", st.pm.PID())
	st.Host = "unix://" + st.Root + "/run/docker.sock"

	cfg := map[string]any{
		"live-restore": true,
		// The namespace shares the host's network: no bridge, no rules.
		"bridge": "none", "iptables": false,
		// Containers' cgroups below the manager's, so the test finds all
		// it started by its own cgroup.
		"cgroup-parent": st.Cgroup() + "/docker",
	}
	for k, v := range o.Daemon {
		cfg[k] = v
		if v == nil { // a key the host's file does not have
			delete(cfg, k)
		}
	}
	if o.Packages {
		st.installPackages(t, o)
	}
	st.WriteDaemonJSON(t, cfg)
	for _, u := range []struct {
		r    Release
		name string
	}{{o.Docker, DockerUnit}, {o.Docker, DockerSocket}, {o.Containerd, ContainerdUnit}} {
		if o.Packages {
			st.LinkUnit(t, u.name, "/lib/systemd/system/"+u.name)
			continue
		}
		b, err := readUnit(u.r, u.name)
		if err != nil {
			t.Fatalf("testbed: %v", err)
		}
		st.InstallUnit(t, u.name, string(b))
	}
	st.Reload(t)
	t.Cleanup(func() { st.removeContainers(t) }) // before the units stop
	st.StartUnit(t, ContainerdUnit)
	st.StartUnit(t, DockerUnit)
	st.waitAPI(t, 30*time.Second)
	return st
}

// Path is a file of the namespace, seen from outside (read-only use).
func (s *Stack) Path(path string) string { return filepath.Join(s.Root, path) }

// WriteDaemonJSON writes /etc/docker/daemon.json of the namespace.
func (s *Stack) WriteDaemonJSON(t T, cfg map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatalf("%v", err)
	}
	s.WriteFile(t, "/etc/docker/daemon.json", append(b, '\n'), 0o644)
}

// WriteFile writes a file of the namespace through its root.
func (s *Stack) WriteFile(t T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	p := s.Path(path)
	mustMkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}

// Liveswap runs liveswap inside the stack's mount namespace, reaching the
// manager as `--systemd user` would, and returns its exit code and output.
func (s *Stack) Liveswap(t T, bin string, args ...string) (int, string, string) {
	t.Helper()
	argv := append([]string{"--mount=/proc/" + strconv.Itoa(s.pm.PID()) + "/ns/mnt", "--", bin}, args...)
	cmd := exec.Command("nsenter", argv...)
	cmd.Env = append(os.Environ(), s.Env()...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("testbed: running %s: %v", bin, err)
	}
	return code, out.String(), errb.String()
}

// MainVersion asks the unit's running process for its binary: the exe
// link of MainPID, resolved in the namespace.
func (s *Stack) MainExe(t T, unit string) string {
	t.Helper()
	l, err := procfs.Link(s.MainPID(t, unit), "exe")
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return l
}

func (s *Stack) waitAPI(t T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := Docker(s.Host, "version", "--format", "{{.Server.Version}}")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testbed: dockerd of the stack did not answer in %v: %v\nmanager log:\n%s", timeout, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeContainers removes every container while the daemon still runs.
func (s *Stack) removeContainers(t T) {
	out, err := Docker(s.Host, "ps", "-aq")
	if err != nil {
		return
	}
	if ids := strings.Fields(out); len(ids) > 0 {
		if _, err := Docker(s.Host, append([]string{"rm", "-f"}, ids...)...); err != nil {
			t.Logf("testbed: removing the stack's containers: %v", err)
		}
	}
}

// readUnit reads a unit file as the package ships it (lib/ before
// usr-merge, usr/lib/ after).
func readUnit(r Release, name string) ([]byte, error) {
	for _, d := range []string{"lib/systemd/system", "usr/lib/systemd/system"} {
		if b, err := os.ReadFile(r.Path(filepath.Join(d, name))); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s %s ships no %s", r.Package, r.Version, name)
}

func mustMkdir(t T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("testbed: %v", err)
		}
	}
}
