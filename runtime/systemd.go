package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// underSystemd reports whether systemd started this process.
func underSystemd(env func(string) string) bool {
	return env("INVOCATION_ID") != "" || env("NOTIFY_SOCKET") != "" || env("MANAGERPID") != ""
}

// managerSocket picks the D-Bus address of the systemd manager that
// started us. MANAGERPID is set by user managers only (and is never 1
// then); without it we are a system service.
func managerSocket(env func(string) string) (addr string, private bool) {
	mpid := env("MANAGERPID")
	if mpid == "" || mpid == "1" {
		return "unix:path=/run/systemd/private", true
	}
	if rd := env("XDG_RUNTIME_DIR"); rd != "" {
		if p := filepath.Join(rd, "systemd", "private"); fileExists(p) {
			return "unix:path=" + p, true
		}
	}
	if a := env("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, false
	}
	return "unix:path=" + filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "systemd", "private"), true
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// scopeMover moves shims into transient scope units of the manager that
// started the daemon, so that stopping or restarting the daemon's unit
// (even with KillMode=control-group) leaves containers alone.
type scopeMover struct {
	addr    string
	private bool
	log     *slog.Logger

	mu   sync.Mutex
	conn *sdbus.Conn
}

func newScopeMover(env func(string) string, log *slog.Logger) *scopeMover {
	if !underSystemd(env) {
		return nil
	}
	addr, private := managerSocket(env)
	return &scopeMover{addr: addr, private: private, log: log}
}

func (m *scopeMover) connect(ctx context.Context) (*sdbus.Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil && m.conn.Connected() {
		return m.conn, nil
	}
	conn, err := sdbus.NewConnection(func() (*godbus.Conn, error) {
		// No WithContext: it would close the shared connection when the
		// first caller's context ends, under the moves still in flight.
		c, err := godbus.Dial(m.addr)
		if err != nil {
			return nil, err
		}
		if err := c.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
			c.Close()
			return nil, err
		}
		// The manager's private socket is peer-to-peer: no Hello there.
		if !m.private {
			if err := c.Hello(); err != nil {
				c.Close()
				return nil, err
			}
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to the systemd manager at %s: %w", m.addr, err)
	}
	m.conn = conn
	return conn, nil
}

// move puts pid into a new scope named after the container.
func (m *scopeMover) move(ctx context.Context, id string, pid int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := m.connect(ctx)
	if err != nil {
		return "", err
	}
	unit := fmt.Sprintf("liveswapd-%s-%d.scope", id[:12], pid)
	props := []sdbus.Property{
		sdbus.PropDescription("liveswapd container " + id[:12]),
		sdbus.PropPids(uint32(pid)),
		{Name: "CollectMode", Value: godbus.MakeVariant("inactive-or-failed")},
	}
	ch := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, unit, "fail", props, ch); err != nil {
		return "", fmt.Errorf("starting scope %s for pid %d: %w", unit, pid, err)
	}
	// Always read the job result: an unread channel blocks the connection.
	select {
	case res := <-ch:
		if res != "done" {
			return "", fmt.Errorf("scope %s for pid %d: job result %q", unit, pid, res)
		}
	case <-ctx.Done():
		return "", fmt.Errorf("scope %s for pid %d: waiting for the job: %w", unit, pid, ctx.Err())
	}
	return unit, nil
}

func (m *scopeMover) close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}
