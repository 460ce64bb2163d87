package checks

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/host/state"
	"github.com/liveswap/liveswap/plan"
)

// fakeProc points procfs at a /proc with processes: pid (0 = self) ->
// cgroup, pidns.
func fakeProc(t *testing.T, procs map[int][2]string) string {
	t.Helper()
	root := t.TempDir()
	old := procfs.Root
	procfs.Root = root
	t.Cleanup(func() { procfs.Root = old })
	for pid, p := range procs {
		name := "self"
		if pid != 0 {
			name = strconv.Itoa(pid)
		}
		dir := filepath.Join(root, name)
		os.MkdirAll(filepath.Join(dir, "ns"), 0o755)
		cgroup := "0::" + p[0] + "\n"
		if strings.Contains(p[0], ":") { // a whole cgroup file (hybrid hosts)
			cgroup = p[0]
		}
		os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644)
		os.Symlink(p[1], filepath.Join(dir, "ns", "pid"))
	}
	return root
}

func TestSelfInside(t *testing.T) {
	const id = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
	const daemon = 50
	hostMounts := "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
	ctrMounts := "1360 1339 0:27 /tmp/lsd-1/root/containers/" + id + "/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n"
	tests := []struct {
		name      string
		procs     map[int][2]string // pid (0 = self) -> cgroup, pid namespace
		mountinfo string
		hostname  string
		ctr       ctrProc
		want      string // substring of the reason, "" for not inside
	}{
		{"on the host", map[int][2]string{
			0:      {"/user.slice/session-1.scope", "pid:[1]"},
			daemon: {"/system.slice/docker.service", "pid:[1]"},
			100:    {"/system.slice/docker-" + id + ".scope", "pid:[2]"},
		}, hostMounts, "host1", ctrProc{"web", id, 100}, ""},
		{"in the container's cgroup", map[int][2]string{
			0:      {"/system.slice/docker-" + id + ".scope", "pid:[1]"},
			daemon: {"/system.slice/docker.service", "pid:[1]"},
			100:    {"/system.slice/docker-" + id + ".scope", "pid:[1]"},
		}, "", "", ctrProc{"web", "", 100}, "runs in the container's cgroup"},
		{"below the container's cgroup", map[int][2]string{
			0:      {"/scopes/c1.scope/sub", "pid:[1]"},
			daemon: {"/user.slice/liveswapd.service", "pid:[1]"},
			100:    {"/scopes/c1.scope", "pid:[1]"},
		}, "", "", ctrProc{"web", "", 100}, "runs in the container's cgroup"},
		{"cgroup names the container, its pid invisible", map[int][2]string{
			0: {"/docker/" + id, "pid:[7]"},
		}, "", "", ctrProc{"web", id, 4242}, "names container 4f1c2d3e4f5a"},
		{"hybrid host: only name=systemd names the container", map[int][2]string{
			0: {"9:name=systemd:/docker/" + id + "\n4:memory:/docker/" + id + "\n0::/liveswap-mgr-x/app.slice/d.service\n", "pid:[7]"},
		}, "", "", ctrProc{"web", id, 4242}, "names container 4f1c2d3e4f5a"},
		{"private namespaces, mounts name the container", map[int][2]string{
			0: {"/", "pid:[9]"},
		}, ctrMounts, "", ctrProc{"web", id, 4242}, "mounts come from container 4f1c2d3e4f5a"},
		{"private namespaces, hostname is the short ID", map[int][2]string{
			0: {"/", "pid:[9]"},
		}, "", id[:12], ctrProc{"web", id, 4242}, "hostname is container 4f1c2d3e4f5a"},
		{"shares the container's PID namespace", map[int][2]string{
			0:      {"/", "pid:[2]"},
			daemon: {"/system.slice/docker.service", "pid:[1]"},
			100:    {"/system.slice/docker-x.scope", "pid:[2]"},
		}, "", "", ctrProc{"web", "", 100}, "PID namespace"},
		{"container with the host's PID namespace", map[int][2]string{
			0:      {"/user.slice/session-1.scope", "pid:[1]"},
			daemon: {"/system.slice/docker.service", "pid:[1]"},
			100:    {"/system.slice/docker-x.scope", "pid:[1]"},
		}, hostMounts, "host1", ctrProc{"web", "", 100}, ""},
		{"container left in the daemon's cgroup", map[int][2]string{
			0:      {"/system.slice/liveswapd.service", "pid:[1]"},
			daemon: {"/system.slice/liveswapd.service", "pid:[1]"},
			100:    {"/system.slice/liveswapd.service", "pid:[1]"},
		}, "", "", ctrProc{"web", "", 100}, ""},
		{"container in the root cgroup", map[int][2]string{
			0:      {"/user.slice", "pid:[1]"},
			daemon: {"/system.slice/x.service", "pid:[1]"},
			100:    {"/", "pid:[1]"},
		}, "", "", ctrProc{"web", "", 100}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := fakeProc(t, tt.procs)
			os.WriteFile(filepath.Join(proc, "self", "mountinfo"), []byte(tt.mountinfo), 0o644)
			os.MkdirAll(filepath.Join(proc, "sys", "kernel"), 0o755)
			os.WriteFile(filepath.Join(proc, "sys", "kernel", "hostname"), []byte(tt.hostname+"\n"), 0o644)
			name, why := selfInside([]ctrProc{tt.ctr}, daemon)
			if tt.want == "" {
				if name != "" {
					t.Errorf("inside %s: %s; want outside", name, why)
				}
				return
			}
			if name != "web" || !strings.Contains(why, tt.want) {
				t.Errorf("= %q %q, want web with %q", name, why, tt.want)
			}
		})
	}
}

func TestNeedrestartExcludes(t *testing.T) {
	debian := `# Override service default selection (hash of regex).
$nrconf{override_rc} = {
    # DBus
    qr(^dbus) => 0,
    qr(^docker) => 0,
    qr(^getty@.+\.service) => 0,
};
#$nrconf{override_rc}{qr(^lsdocker)} = 0;
`
	tests := []struct {
		name, main, extra, unit string
		want                    bool
	}{
		{"debian default covers docker", debian, "", "docker.service", true},
		{"debian default misses others", debian, "", "lsdocker-1.service", false},
		{"commented line ignored", debian, "", "lsdocker-1.service", false},
		{"conf.d override", debian, "$nrconf{override_rc}{qr(^lsdocker-1\\.service$)} = 0;\n", "lsdocker-1.service", true},
		{"override to 1 does not exclude", "", "$nrconf{override_rc}{qr(^liveswapd)} = 1;\n", "liveswapd.service", false},
		{"blacklist_rc", "", "$nrconf{blacklist_rc} = [\n  qr(^liveswapd\\.service$),\n];\n", "liveswapd.service", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
			os.WriteFile(filepath.Join(dir, "needrestart.conf"), []byte(tt.main), 0o644)
			if tt.extra != "" {
				os.WriteFile(filepath.Join(dir, "conf.d", "x.conf"), []byte(tt.extra), 0o644)
			}
			if got := needrestartExcludes(dir, tt.unit) != ""; got != tt.want {
				t.Errorf("excluded = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnattendedUpgrades(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "20auto-upgrades"), []byte("APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "50unattended-upgrades"), []byte(`Unattended-Upgrade::Package-Blacklist {
    // "vim";
    "libc6$";
    "containerd";
};
`), 0o644)
	if !unattendedEnabled(dir) {
		t.Error("enabled not detected")
	}
	bl := unattendedBlacklist(dir)
	if strings.Join(bl, " ") != "libc6$ containerd" {
		t.Errorf("blacklist = %q", bl)
	}
	for pkg, want := range map[string]bool{"containerd": true, "containerd.io": true, "docker.io": false, "libc6": true, "libc6-dev": false, "vim": false} {
		if got := blacklisted(pkg, bl); got != want {
			t.Errorf("blacklisted(%s) = %v, want %v", pkg, got, want)
		}
	}
	os.WriteFile(filepath.Join(dir, "99off"), []byte("APT::Periodic::Unattended-Upgrade \"0\";\n"), 0o644)
	if unattendedEnabled(dir) {
		t.Error("a later file turning it off was ignored")
	}

	info := t.TempDir()
	os.WriteFile(filepath.Join(info, "docker.io.list"), []byte("/.\n/usr\n/usr/sbin/dockerd\n"), 0o644)
	os.WriteFile(filepath.Join(info, "libfoo:amd64.list"), []byte("/usr/sbin/dockerd\n"), 0o644)
	os.WriteFile(filepath.Join(info, "other.list"), []byte("/usr/sbin/dockerd-ce\n"), 0o644)
	if got := strings.Join(owningPackages(info, "/usr/sbin/dockerd"), " "); got != "docker.io libfoo" {
		t.Errorf("owners = %q", got)
	}
}

func TestLockAndJournal(t *testing.T) {
	dir := t.TempDir()
	env := NewEnv(&plan.Plan{}, Options{StateDir: dir})
	if r := checkLock(context.Background(), env); r.Status != OK {
		t.Errorf("no lock file: %+v", r)
	}
	f, err := os.Create(state.LockPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if r := checkLock(context.Background(), env); r.Status != OK {
		t.Errorf("lock not held: %+v", r)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	r := checkLock(context.Background(), env)
	if r.Status != Fail || !strings.Contains(r.Message, "by pid "+strconv.Itoa(os.Getpid())) || r.Remedy == "" {
		t.Errorf("lock held: %+v", r)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)

	// A run with another state folder holds the plan's unit.
	locks := t.TempDir()
	p := &plan.Plan{Target: plan.Target{Unit: "x.service", Systemd: "user"}}
	other := t.TempDir()
	held, err := state.AcquireTargets(locks, other, LockTargets(p))
	if err != nil {
		t.Fatal(err)
	}
	r = checkLock(context.Background(), NewEnv(p, Options{StateDir: dir, LockDir: locks}))
	if r.Status != Fail || !strings.Contains(r.Message, "unit user x.service is locked by pid "+strconv.Itoa(os.Getpid())+" (state dir "+other+")") ||
		!strings.Contains(r.Remedy, other) {
		t.Errorf("unit held by another state folder's run: %+v", r)
	}
	held.Release()
	if r := checkLock(context.Background(), NewEnv(p, Options{StateDir: dir, LockDir: locks})); r.Status != OK {
		t.Errorf("unit released: %+v", r)
	}

	if r := checkJournal(context.Background(), env); r.Status != OK {
		t.Errorf("no journal: %+v", r)
	}
	j := filepath.Join(dir, JournalName)
	lines := []string{
		`{"run":"r1","phase":"lock","status":"begin"}`,
		`{"run":"r1","phase":"commit","status":"done"}`,
		`{"run":"r1","phase":"commit","status":"end","result":"upgraded"}`,
		`{"run":"r2","phase":"lock","status":"begin"}`,
		`{"run":"r2","phase":"swap","status":"done"}`,
		`{"run":"r2","phase":"restart","status":"started"}`,
		`{"run":"r2","pha`, // torn by a crash
	}
	os.WriteFile(j, []byte(strings.Join(lines[:3], "\n")+"\n"), 0o600)
	if r := checkJournal(context.Background(), env); r.Status != OK {
		t.Errorf("ended run: %+v", r)
	}
	os.WriteFile(j, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	r = checkJournal(context.Background(), env)
	if r.Status != Fail || !strings.Contains(r.Message, "r2 did not end: it stopped at restart started") || !strings.Contains(r.Remedy, "--resume") {
		t.Errorf("interrupted run: %+v", r)
	}
}

// TestPackageAutomation: needrestart that does not exclude the daemon's
// unit is a warning with the exclusion as remedy; one that excludes it,
// or a user manager's unit, is not.
func TestPackageAutomation(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "needrestart")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	conf := filepath.Join(dir, "needrestart.d")
	os.MkdirAll(filepath.Join(conf, "conf.d"), 0o755)
	old := []string{needrestartBin, needrestartConf, unattendedBin, aptConfDir}
	needrestartBin, needrestartConf, unattendedBin, aptConfDir = bin, conf, filepath.Join(dir, "none"), filepath.Join(dir, "apt")
	defer func() { needrestartBin, needrestartConf, unattendedBin, aptConfDir = old[0], old[1], old[2], old[3] }()
	tests := []struct {
		name, systemd, conf string
		want                Status
	}{
		{"needrestart may restart docker", "system", "", Warn},
		{"needrestart excludes docker", "system", "$nrconf{override_rc}{qr(^docker)} = 0;\n", OK},
		{"a user manager's unit", "user", "", OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(conf, "needrestart.conf"), []byte(tt.conf), 0o644)
			env := NewEnv(&plan.Plan{Target: plan.Target{Unit: "docker.service", Systemd: tt.systemd}}, Options{})
			r := checkPackageAutomation(context.Background(), env)
			if r.Status != tt.want {
				t.Fatalf("%s %q, want %s", r.Status, r.Message, tt.want)
			}
			if r.Status == Warn && !strings.Contains(r.Remedy, "override_rc") {
				t.Errorf("remedy %q does not say how to exclude the unit", r.Remedy)
			}
		})
	}
}
