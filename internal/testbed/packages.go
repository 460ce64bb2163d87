package testbed

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// packageOverlays are the host folders a package stack's namespace gets
// copy-on-write: dpkg writes its database (/var/lib/dpkg), its log, the
// packages' files under /usr and their conffiles under /etc there, never
// on the host.
var packageOverlays = []string{"/usr", "/etc", "/var/lib", "/var/log"}

// Deb is the .deb file e2e/releases.sh fetched for the release.
func (r Release) Deb() string {
	name, err := os.ReadFile(filepath.Join(r.Root, ".deb"))
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(filepath.Dir(r.Root)), "debs", strings.TrimSpace(string(name)))
}

// installPackages installs the stack's releases with dpkg in the
// namespace, as a host that got them from its mirror, with a policy-rc.d
// denying the maintainer scripts' starts (the units are linked and started
// by StartStack). Then it makes systemctl in the namespace reach the
// private manager as the system's (/run/systemd/private): from here on a
// maintainer script's `systemctl restart` restarts the stack's units, as on
// a real host.
func (s *Stack) installPackages(t T, o StackOptions) {
	t.Helper()
	deny := "#!/bin/sh\nexit 101\n"
	s.WriteFile(t, "/usr/sbin/policy-rc.d", []byte(deny), 0o755)
	out, err := s.Exec("dpkg", "--force-confdef", "--force-confold", "--install", o.Containerd.Deb(), o.Docker.Deb())
	if err != nil {
		t.Fatalf("testbed: installing %s %s and %s %s: %v\n%s", o.Docker.Package, o.Docker.Version, o.Containerd.Package, o.Containerd.Version, err, out)
	}
	if err := os.Remove(s.Path("/usr/sbin/policy-rc.d")); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	if err := os.Symlink(s.PrivateSocket(), s.Path("/run/systemd/private")); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}

// Exec runs a command in the stack's mount namespace and returns its
// combined output.
func (s *Stack) Exec(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	argv := append([]string{"--mount=/proc/" + strconv.Itoa(s.pm.PID()) + "/ns/mnt", "--", name}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// LinkUnit links name in the manager's unit folder to target, a unit file
// of the namespace (a package's own, /lib/systemd/system/NAME): the unit
// the manager runs is the file dpkg installs. The unit is stopped and the
// link removed when the test ends.
func (s *Systemd) LinkUnit(t T, name, target string) {
	t.Helper()
	path := filepath.Join(s.UnitDir, name)
	if err := os.Symlink(target, path); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	s.cleanupUnit(t, name, path)
}
