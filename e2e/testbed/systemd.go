package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/liveswap/liveswap/upgrade/systemd"
)

// Systemd is a private systemd user manager running as root in its own mount
// namespace (systemd is not PID 1 on these machines; see FACTS.md). Units are
// installed into a folder the test owns.
type Systemd struct {
	Dir        string      // everything of this manager lives here
	RuntimeDir string      // XDG_RUNTIME_DIR: bus, systemd/private, systemd/notify
	UnitDir    string      // where InstallUnit writes unit files
	Conn       *sdbus.Conn // D-Bus connection to the manager (private socket)
	cmd        *exec.Cmd
	log        string
}

// StartSystemd starts a manager and registers its stop as a cleanup; because
// it is started before the units and containers of a test, it stops last.
func StartSystemd(t testing.TB) *Systemd {
	t.Helper()
	dir := shortDir(t, "lss-")
	s := &Systemd{
		Dir:        dir,
		RuntimeDir: filepath.Join(dir, "run"),
		UnitDir:    filepath.Join(dir, "cfg", "systemd", "user"),
		log:        filepath.Join(dir, "manager.log"),
	}
	for _, d := range []string{s.RuntimeDir, s.UnitDir, filepath.Join(dir, "data"), filepath.Join(dir, "state"), filepath.Join(dir, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && exec "+SystemdBin+" --user")
	s.cmd.Env = append(envWithout(os.Environ(), "DBUS_SESSION_BUS_ADDRESS", "NOTIFY_SOCKET", "INVOCATION_ID", "MANAGERPID"),
		"XDG_RUNTIME_DIR="+s.RuntimeDir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
	)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Own session, so a signal to the test's process group does not reach
	// it; and SIGTERM (start exit.target, stopping every unit) if the test
	// binary dies without cleaning up.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("testbed: starting systemd --user: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t, exited) })

	priv := filepath.Join(s.RuntimeDir, "systemd", "private")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(priv); err == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("testbed: systemd --user exited: %v\n%s", err, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testbed: systemd --user did not create %s in 15s\n%s", priv, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Conn, err = systemd.DialPrivate(context.Background(), priv)
	if err != nil {
		t.Fatalf("testbed: connecting to %s: %v", priv, err)
	}
	return s
}

func (s *Systemd) stop(t testing.TB, exited chan error) {
	if s.Conn != nil {
		s.Conn.Close()
	}
	// The user manager answers SIGTERM by starting exit.target, which stops
	// every unit it runs before it exits.
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Logf("testbed: systemd --user did not exit in 30s; killing it")
		s.cmd.Process.Kill()
		<-exited
	}
}

// Log returns the manager's own output (for failure messages).
func (s *Systemd) Log() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Env is what a process outside the namespace needs to reach this manager
// the way `liveswap --systemd user` does.
func (s *Systemd) Env() []string {
	return []string{
		"XDG_RUNTIME_DIR=" + s.RuntimeDir,
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(s.RuntimeDir, "bus"),
	}
}

// PrivateSocket is the manager's private D-Bus socket.
func (s *Systemd) PrivateSocket() string {
	return filepath.Join(s.RuntimeDir, "systemd", "private")
}

// InstallUnit writes a unit file and reloads the manager. The unit is
// stopped and removed when the test ends.
func (s *Systemd) InstallUnit(t testing.TB, name, content string) {
	t.Helper()
	path := filepath.Join(s.UnitDir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Reload(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if res, err := s.job(ctx, name, s.Conn.StopUnitContext); err != nil || res != "done" {
			t.Logf("testbed: stopping %s: %s %v", name, res, err)
		}
		os.Remove(path)
	})
}

// Reload runs daemon-reload.
func (s *Systemd) Reload(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Conn.ReloadContext(ctx); err != nil {
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
func (s *Systemd) StartUnit(t testing.TB, name string) {
	s.mustJob(t, name, "start", s.Conn.StartUnitContext)
}

// StopUnit stops name and fails the test unless the job ends "done".
func (s *Systemd) StopUnit(t testing.TB, name string) {
	s.mustJob(t, name, "stop", s.Conn.StopUnitContext)
}

// RestartUnit restarts name and fails the test unless the job ends "done".
func (s *Systemd) RestartUnit(t testing.TB, name string) {
	s.mustJob(t, name, "restart", s.Conn.RestartUnitContext)
}

func (s *Systemd) mustJob(t testing.TB, name, verb string, f jobFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := s.job(ctx, name, f)
	if err != nil || res != "done" {
		t.Fatalf("testbed: %s %s: result %q, %v\nmanager log:\n%s", verb, name, res, err, s.Log())
	}
}

// MainPID returns the unit's main process, 0 when it has none.
func (s *Systemd) MainPID(t testing.TB, name string) int {
	t.Helper()
	p, err := s.Conn.GetServicePropertyContext(context.Background(), name, "MainPID")
	if err != nil {
		t.Fatalf("testbed: MainPID of %s: %v", name, err)
	}
	pid, _ := p.Value.Value().(uint32)
	return int(pid)
}

// ActiveState returns the unit's ActiveState ("active", "failed", ...).
func (s *Systemd) ActiveState(t testing.TB, name string) string {
	t.Helper()
	p, err := s.Conn.GetUnitPropertyContext(context.Background(), name, "ActiveState")
	if err != nil {
		t.Fatalf("testbed: ActiveState of %s: %v", name, err)
	}
	v, _ := p.Value.Value().(string)
	return v
}

func envWithout(env []string, keys ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, k := range keys {
			if bytes.HasPrefix([]byte(kv), []byte(k+"=")) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
