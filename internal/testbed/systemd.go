package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/liveswap/liveswap/internal/host/systemd"
)

// Systemd is a private systemd user manager running as root in its own mount
// namespace (systemd is not PID 1 on these machines; see FACTS.md). Units are
// installed into a folder the test owns.
type Systemd struct {
	Dir        string      // everything of this manager lives here
	RuntimeDir string      // XDG_RUNTIME_DIR: bus, systemd/private, systemd/notify
	UnitDir    string      // where InstallUnit writes unit files
	conn       *sdbus.Conn // D-Bus connection to the manager (private socket)
	connMu     sync.Mutex
	pm         *systemd.PrivateManager
}

// Conn is the D-Bus connection to the manager, dialled again when the
// manager dropped it (a daemon-reexec does).
func (s *Systemd) Conn() *sdbus.Conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conn != nil && !s.conn.Connected() {
		if m, err := s.pm.Connect(context.Background()); err == nil {
			s.conn.Close()
			s.conn = m.Conn()
		}
	}
	return s.conn
}

// StartSystemd starts a manager and registers its stop as a cleanup; because
// it is started before the units and containers of a test, it stops last.
// A test (a T that can skip) is skipped first, as Require says, when the
// manager cannot run here: not root, LIVESWAP_E2E=off, no systemd.
func StartSystemd(t T) *Systemd {
	t.Helper()
	if s, ok := t.(Skipper); ok {
		Require(s)
	}
	return startSystemd(t, shortDir(t, "lss-"))
}

// startSystemd starts a manager in dir; setup runs in its mount namespace
// first.
func startSystemd(t T, dir string, setup ...string) *Systemd {
	t.Helper()
	pm, err := systemd.StartPrivateManager(dir, setup...)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	s := &Systemd{Dir: dir, RuntimeDir: pm.RuntimeDir, UnitDir: pm.UnitDir, pm: pm}
	t.Cleanup(func() {
		if s.conn != nil {
			s.conn.Close()
		}
		if err := pm.Stop(30 * time.Second); err != nil {
			t.Fatalf("testbed: %v", err) // its units may have outlived the test
		}
	})
	m, err := pm.Connect(context.Background())
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	s.conn = m.Conn()
	return s
}

// Cgroup is the manager's own cgroup subtree; its units live below it.
func (s *Systemd) Cgroup() string { return s.pm.Cgroup }

// Log returns the manager's own output (for failure messages).
func (s *Systemd) Log() string { return s.pm.Log() }

// Env is what a process outside the namespace needs to reach this manager
// the way `liveswap --systemd user` does.
func (s *Systemd) Env() []string { return s.pm.Env() }

// PrivateSocket is the manager's private D-Bus socket.
func (s *Systemd) PrivateSocket() string { return s.pm.PrivateSocket() }

// InstallUnit writes a unit file and reloads the manager. The unit is
// stopped and removed when the test ends.
func (s *Systemd) InstallUnit(t T, name, content string) {
	t.Helper()
	path := filepath.Join(s.UnitDir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	s.Reload(t)
	s.cleanupUnit(t, name, path)
}

// cleanupUnit stops name and removes its file path when the test ends.
func (s *Systemd) cleanupUnit(t T, name, path string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := s.job(ctx, name, s.Conn().StopUnitContext)
		os.Remove(path)
		if err != nil || res != "done" {
			t.Fatalf("testbed: stopping %s: %s %v\nmanager log:\n%s", name, res, err, s.Log())
		}
	})
}

// Reload runs daemon-reload.
func (s *Systemd) Reload(t T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Conn().ReloadContext(ctx); err != nil {
		t.Fatalf("testbed: daemon-reload: %v", err)
	}
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// job runs a unit job and waits for its result; the channel is always read,
// as go-systemd requires.
func (s *Systemd) job(ctx context.Context, name string, f jobFunc) (string, error) {
	ch := make(chan string, 1)
	if _, err := f(ctx, name, "replace", ch); err != nil {
		return "", err
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for job on %s: %w", name, ctx.Err())
	}
}

// StartUnit starts name and fails the test unless the job ends "done".
func (s *Systemd) StartUnit(t T, name string) {
	s.mustJob(t, name, "start", s.Conn().StartUnitContext)
}

// StopUnit stops name and fails the test unless the job ends "done".
func (s *Systemd) StopUnit(t T, name string) {
	s.mustJob(t, name, "stop", s.Conn().StopUnitContext)
}

// RestartUnit restarts name and fails the test unless the job ends "done".
func (s *Systemd) RestartUnit(t T, name string) {
	s.mustJob(t, name, "restart", s.Conn().RestartUnitContext)
}

// ReloadUnit reloads name (ExecReload) and fails the test unless the job
// ends "done".
func (s *Systemd) ReloadUnit(t T, name string) {
	s.mustJob(t, name, "reload", s.Conn().ReloadUnitContext)
}

func (s *Systemd) mustJob(t T, name, verb string, f jobFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := s.job(ctx, name, f)
	if err != nil || res != "done" {
		t.Fatalf("testbed: %s %s: result %q, %v\nmanager log:\n%s", verb, name, res, err, s.Log())
	}
}

// MainPID returns the unit's main process, 0 when it has none.
func (s *Systemd) MainPID(t T, name string) int {
	t.Helper()
	p, err := s.Conn().GetServicePropertyContext(context.Background(), name, "MainPID")
	if err != nil {
		t.Fatalf("testbed: MainPID of %s: %v", name, err)
	}
	pid, _ := p.Value.Value().(uint32)
	return int(pid)
}

// ActiveState returns the unit's ActiveState ("active", "failed", ...).
func (s *Systemd) ActiveState(t T, name string) string {
	t.Helper()
	p, err := s.Conn().GetUnitPropertyContext(context.Background(), name, "ActiveState")
	if err != nil {
		t.Fatalf("testbed: ActiveState of %s: %v", name, err)
	}
	v, _ := p.Value.Value().(string)
	return v
}
