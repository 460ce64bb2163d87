// Package systemd talks to a systemd manager over D-Bus (go-systemd): it
// reads the properties of the daemon's unit and runs restart, reload, start
// and stop jobs, waiting for their results. It also reads unit files, for
// a unit no manager has loaded. liveswap never runs systemctl.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// Scope selects the manager: the system one or the caller's user manager.
type Scope string

// The two manager scopes.
const (
	System Scope = "system"
	User   Scope = "user"
)

// ParseScope accepts "system" or "user".
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case System, User:
		return Scope(s), nil
	}
	return "", fmt.Errorf("--systemd %q: use system or user", s)
}

// Manager is a connection to one systemd manager.
type Manager struct {
	Scope Scope
	conn  *sdbus.Conn
}

// Connect reaches the manager of scope. For the user scope it uses
// DBUS_SESSION_BUS_ADDRESS when set, else the manager's private socket
// $XDG_RUNTIME_DIR/systemd/private (which needs no bus daemon).
func Connect(ctx context.Context, scope Scope) (*Manager, error) {
	var (
		conn *sdbus.Conn
		err  error
	)
	switch scope {
	case System:
		conn, err = sdbus.NewSystemConnectionContext(ctx)
		if err != nil {
			// Root can use the private socket when the system bus is down.
			if c, perr := sdbus.NewSystemdConnectionContext(ctx); perr == nil {
				conn, err = c, nil
			}
		}
	case User:
		if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
			conn, err = sdbus.NewUserConnectionContext(ctx)
		} else if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			conn, err = DialPrivate(ctx, filepath.Join(rt, "systemd", "private"))
		} else {
			err = errors.New("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set")
		}
	default:
		return nil, fmt.Errorf("unknown systemd scope %q (use system or user)", scope)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the systemd %s manager over D-Bus: %w (is systemd running? for a user manager set DBUS_SESSION_BUS_ADDRESS or XDG_RUNTIME_DIR)", scope, err)
	}
	return &Manager{Scope: scope, conn: conn}, nil
}

// DialPrivate connects to a manager's private socket: EXTERNAL auth and no
// Hello, since no bus daemon sits in between.
func DialPrivate(ctx context.Context, socket string) (*sdbus.Conn, error) {
	return sdbus.NewConnection(func() (*godbus.Conn, error) {
		// No WithContext: it would close the connection when ctx ends,
		// while the Manager is meant to outlive the call that made it.
		c, err := godbus.Dial("unix:path=" + socket)
		if err != nil {
			return nil, err
		}
		if err := c.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
}

// NewManager wraps an existing connection.
func NewManager(scope Scope, conn *sdbus.Conn) *Manager { return &Manager{Scope: scope, conn: conn} }

// Conn is the underlying go-systemd connection.
func (m *Manager) Conn() *sdbus.Conn { return m.conn }

// Close closes the connection.
func (m *Manager) Close() { m.conn.Close() }

// Exec is one command line of ExecStart or ExecReload.
type Exec struct {
	Path string
	Argv []string
}

// Unit is what liveswap needs to know about a service unit.
type Unit struct {
	Name           string
	LoadState      string
	ActiveState    string
	SubState       string
	FragmentPath   string
	DropInPaths    []string
	Type           string
	KillMode       string
	Restart        string
	TimeoutStopSec float64
	MainPID        int
	ExecStart      []Exec
	ExecReload     []Exec
	Delegate       bool
}

// Unit reads a service unit's properties.
func (m *Manager) Unit(ctx context.Context, name string) (*Unit, error) {
	up, err := m.conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading unit %s: %w", name, err)
	}
	u := &Unit{
		Name:         name,
		LoadState:    str(up["LoadState"]),
		ActiveState:  str(up["ActiveState"]),
		SubState:     str(up["SubState"]),
		FragmentPath: str(up["FragmentPath"]),
		DropInPaths:  strs(up["DropInPaths"]),
	}
	if u.LoadState != "loaded" {
		return u, nil
	}
	sp, err := m.conn.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return nil, fmt.Errorf("reading service properties of %s: %w", name, err)
	}
	u.Type = str(sp["Type"])
	u.KillMode = str(sp["KillMode"])
	u.Restart = str(sp["Restart"])
	u.Delegate, _ = sp["Delegate"].(bool)
	if v, ok := sp["TimeoutStopUSec"].(uint64); ok {
		u.TimeoutStopSec = float64(v) / 1e6
	}
	if v, ok := sp["MainPID"].(uint32); ok {
		u.MainPID = int(v)
	}
	u.ExecStart = execs(sp["ExecStart"])
	u.ExecReload = execs(sp["ExecReload"])
	return u, nil
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string { s, _ := v.([]string); return s }

// execs decodes a(sasbttttuii): path, argv, ignore-failure, timestamps, pid,
// status.
func execs(v any) []Exec {
	list, _ := v.([][]any)
	var out []Exec
	for _, e := range list {
		if len(e) < 2 {
			continue
		}
		path, _ := e[0].(string)
		argv, _ := e[1].([]string)
		out = append(out, Exec{Path: path, Argv: argv})
	}
	return out
}

// String renders a command line for messages.
func (e Exec) String() string { return strings.Join(e.Argv, " ") }

// JobError is a unit job that ended with a result other than "done".
type JobError struct {
	Unit, Verb, Result string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("%s of %s ended %q", e.Verb, e.Unit, e.Result)
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// run queues a job and waits for its result, always reading the channel as
// go-systemd requires. Anything but "done" is an error.
func (m *Manager) run(ctx context.Context, verb, unit string, f jobFunc) error {
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return &JobError{Unit: unit, Verb: verb, Result: res}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: waiting for the job: %w", verb, unit, ctx.Err())
	}
}

// Restart restarts unit (stop, then start) and waits for the job.
func (m *Manager) Restart(ctx context.Context, unit string) error {
	return m.run(ctx, "restart", unit, m.conn.RestartUnitContext)
}

// Reload asks unit to reload its configuration (ExecReload) and waits.
func (m *Manager) Reload(ctx context.Context, unit string) error {
	return m.run(ctx, "reload", unit, m.conn.ReloadUnitContext)
}

// Start starts unit and waits.
func (m *Manager) Start(ctx context.Context, unit string) error {
	return m.run(ctx, "start", unit, m.conn.StartUnitContext)
}

// Stop stops unit and waits.
func (m *Manager) Stop(ctx context.Context, unit string) error {
	return m.run(ctx, "stop", unit, m.conn.StopUnitContext)
}

// ResetFailed clears a failed state so the unit can be started again.
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	return m.conn.ResetFailedUnitContext(ctx, unit)
}

// DaemonReload makes the manager re-read unit files.
func (m *Manager) DaemonReload(ctx context.Context) error {
	return m.conn.ReloadContext(ctx)
}

// UnitOfPID names the unit whose cgroup holds pid (a service or a scope).
func (m *Manager) UnitOfPID(ctx context.Context, pid int) (string, error) {
	name, err := m.conn.GetUnitNameByPID(ctx, uint32(pid))
	if err != nil {
		return "", fmt.Errorf("unit of pid %d: %w", pid, err)
	}
	return name, nil
}
