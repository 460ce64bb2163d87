package runtime

import (
	"os"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/pidfd"
	"github.com/liveswap/liveswap/internal/host/procfs"
)

func TestRestartPolicy(t *testing.T) {
	p := func(name container.RestartPolicyMode, n int) container.RestartPolicy {
		return container.RestartPolicy{Name: name, MaximumRetryCount: n}
	}
	tests := []struct {
		name        string
		policy      container.RestartPolicy
		exit, count int
		manual      bool
		daemonStart bool
		want        bool
	}{
		{"no", p("no", 0), 1, 0, false, false, false},
		{"empty", p("", 0), 1, 0, false, false, false},
		{"always on success", p("always", 0), 0, 5, false, false, true},
		{"always stopped by hand", p("always", 0), 137, 0, true, false, false},
		{"always stopped by hand, daemon start", p("always", 0), 137, 0, true, true, true},
		{"unless-stopped", p("unless-stopped", 0), 0, 0, false, false, true},
		{"unless-stopped stopped by hand, daemon start", p("unless-stopped", 0), 0, 0, true, true, false},
		{"on-failure success", p("on-failure", 0), 0, 0, false, false, false},
		{"on-failure failure unlimited", p("on-failure", 0), 2, 100, false, false, true},
		{"on-failure under max", p("on-failure", 3), 2, 2, false, false, true},
		{"on-failure at max", p("on-failure", 3), 2, 3, false, false, false},
		{"on-failure stopped by hand", p("on-failure", 3), 137, 0, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RestartPolicy(tt.policy, tt.exit, tt.count, tt.manual, tt.daemonStart); got != tt.want {
				t.Errorf("RestartPolicy = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAtomicFilesAndHiddenRemoval(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/state.json"
	if err := atomicfile.WriteJSON(p, map[string]int{"a": 1}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteJSON(p, map[string]int{"a": 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := atomicfile.ReadJSON(p, &got); err != nil || got["a"] != 2 {
		t.Fatalf("atomicfile.ReadJSON = %v, %v", got, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	sub := dir + "/c1"
	os.MkdirAll(sub+"/x", 0o700)
	if err := removeDirAtomic(sub); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sub); !os.IsNotExist(err) {
		t.Errorf("%s still exists", sub)
	}
	// A removal interrupted after the rename leaves a hidden folder that
	// the sweep deletes.
	os.MkdirAll(dir+"/.c2.removing-abc/x", 0o700)
	sweepHidden(dir)
	if _, err := os.Stat(dir + "/.c2.removing-abc"); !os.IsNotExist(err) {
		t.Error("hidden leftover not swept")
	}
}

func TestWaitPidfdSeesExit(t *testing.T) {
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "0.2"}, &os.ProcAttr{})
	if err != nil {
		t.Skip("no /bin/sleep")
	}
	info, _ := procfs.Stat(p.Pid)
	fd, err := openGuarded(p.Pid, info.Start)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openGuarded(p.Pid, info.Start+1); err == nil {
		t.Error("openGuarded accepted a wrong start time")
	}
	select {
	case <-pidfd.Wait(fd):
	case <-time.After(5 * time.Second):
		t.Fatal("pidfd did not report the exit")
	}
	p.Wait()
}

func TestManagerSelection(t *testing.T) {
	rd := t.TempDir()
	os.MkdirAll(rd+"/systemd", 0o700)
	os.WriteFile(rd+"/systemd/private", nil, 0o600)
	tests := []struct {
		name        string
		env         map[string]string
		underSD     bool
		addr        string
		wantPrivate bool
	}{
		{"not under systemd", map[string]string{}, false, "unix:path=/run/systemd/private", true},
		{"system service", map[string]string{"INVOCATION_ID": "x", "NOTIFY_SOCKET": "/run/systemd/notify"}, true, "unix:path=/run/systemd/private", true},
		{"MANAGERPID 1", map[string]string{"MANAGERPID": "1"}, true, "unix:path=/run/systemd/private", true},
		{"user manager, private socket", map[string]string{"MANAGERPID": "4242", "XDG_RUNTIME_DIR": rd}, true, "unix:path=" + rd + "/systemd/private", true},
		{"user manager, session bus", map[string]string{"MANAGERPID": "4242", "XDG_RUNTIME_DIR": "/nonexistent", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x/bus"}, true, "unix:path=/x/bus", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			if got := underSystemd(env); got != tt.underSD {
				t.Errorf("underSystemd = %v, want %v", got, tt.underSD)
			}
			addr, private := managerSocket(env)
			if addr != tt.addr || private != tt.wantPrivate {
				t.Errorf("managerSocket = %q %v, want %q %v", addr, private, tt.addr, tt.wantPrivate)
			}
		})
	}
}
