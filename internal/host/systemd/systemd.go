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
	"sync"
	"time"

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

// Manager is a connection to one systemd manager. A connection that drops
// (the bus daemon restarted, the manager re-executed) is dialled again on
// the next call, and a job whose result was lost with it is judged by the
// unit's state: an upgrade must not fail, or leave a host half-changed,
// because a socket closed.
type Manager struct {
	Scope Scope

	mu   sync.Mutex
	conn *sdbus.Conn
	dial func() (*sdbus.Conn, error) // nil: the connection cannot be re-made
}

// Connect reaches the manager of scope. For the user scope it uses
// DBUS_SESSION_BUS_ADDRESS when set, else the manager's private socket
// $XDG_RUNTIME_DIR/systemd/private (which needs no bus daemon).
func Connect(ctx context.Context, scope Scope) (*Manager, error) {
	// The connection outlives the call that dials it: go-systemd's
	// ...Context dialers close it when their context ends.
	life := context.WithoutCancel(ctx)
	var dial func() (*sdbus.Conn, error)
	switch scope {
	case System:
		dial = func() (*sdbus.Conn, error) {
			conn, err := sdbus.NewSystemConnectionContext(life)
			if err != nil {
				// Root can use the private socket when the system bus is down.
				if c, perr := sdbus.NewSystemdConnectionContext(life); perr == nil {
					return c, nil
				}
			}
			return conn, err
		}
	case User:
		if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
			dial = func() (*sdbus.Conn, error) { return sdbus.NewUserConnectionContext(life) }
		} else if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			socket := filepath.Join(rt, "systemd", "private")
			dial = func() (*sdbus.Conn, error) { return DialPrivate(life, socket) }
		} else {
			return nil, fmt.Errorf("connecting to the systemd user manager: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set")
		}
	default:
		return nil, fmt.Errorf("unknown systemd scope %q (use system or user)", scope)
	}
	conn, err := dial()
	if err != nil {
		return nil, fmt.Errorf("connecting to the systemd %s manager over D-Bus: %w (is systemd running? for a user manager set DBUS_SESSION_BUS_ADDRESS or XDG_RUNTIME_DIR)", scope, err)
	}
	return &Manager{Scope: scope, conn: conn, dial: dial}, nil
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

// NewManager wraps an existing connection; dial, when not nil, makes a new
// one after it drops.
func NewManager(scope Scope, conn *sdbus.Conn, dial func() (*sdbus.Conn, error)) *Manager {
	return &Manager{Scope: scope, conn: conn, dial: dial}
}

// Conn is the current go-systemd connection.
func (m *Manager) Conn() *sdbus.Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conn
}

// Close closes the connection; the Manager is not to be used after it.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conn.Close()
	m.dial = nil
}

// closed reports whether err, or the state of c, says the connection is gone.
func closed(c *sdbus.Conn, err error) bool {
	return errors.Is(err, godbus.ErrClosed) || !c.Connected()
}

// redial replaces the connection old with a new one, unless another call
// already did.
func (m *Manager) redial(old *sdbus.Conn) (*sdbus.Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != old {
		return m.conn, nil
	}
	if m.dial == nil {
		return nil, fmt.Errorf("the D-Bus connection to the systemd %s manager was lost", m.Scope)
	}
	c, err := m.dial()
	if err != nil {
		return nil, fmt.Errorf("the D-Bus connection to the systemd %s manager was lost and could not be made again: %w", m.Scope, err)
	}
	old.Close()
	m.conn = c
	return c, nil
}

// call runs f on the connection, once more on a new connection when the
// first one turns out to be gone.
func (m *Manager) call(f func(c *sdbus.Conn) error) error {
	c := m.Conn()
	err := f(c)
	if err == nil || !closed(c, err) {
		return err
	}
	if c, err = m.redial(c); err != nil {
		return err
	}
	return f(c)
}

// Exec is one command line of ExecStart or ExecReload.
type Exec struct {
	Path string
	Argv []string // as systemd runs it: $VAR and ${VAR} expanded
	Raw  []string // as the unit file writes it
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
	var up, sp map[string]any
	err := m.call(func(c *sdbus.Conn) (err error) {
		up, err = c.GetUnitPropertiesContext(ctx, name)
		return err
	})
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
	err = m.call(func(c *sdbus.Conn) (err error) {
		sp, err = c.GetUnitTypePropertiesContext(ctx, name, "Service")
		return err
	})
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
	// D-Bus gives command lines unexpanded (Debian's docker.service ends
	// in $DOCKER_OPTS): expand them as systemd will.
	env := Environ(strs(sp["Environment"]), envFiles(sp["EnvironmentFiles"]))
	u.ExecStart = expandAll(execs(sp["ExecStart"]), env)
	u.ExecReload = expandAll(execs(sp["ExecReload"]), env)
	return u, nil
}

func expandAll(list []Exec, env map[string]string) []Exec {
	for i := range list {
		list[i].Raw = list[i].Argv
		list[i].Argv = Expand(list[i].Argv, env)
	}
	return list
}

// envFiles reads the EnvironmentFiles property, a(sb): path, optional.
func envFiles(v any) []EnvFile {
	list, _ := v.([][]any)
	var out []EnvFile
	for _, e := range list {
		if len(e) < 2 {
			continue
		}
		path, _ := e[0].(string)
		optional, _ := e[1].(bool)
		out = append(out, EnvFile{Path: path, Optional: optional})
	}
	return out
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

type jobFunc func(c *sdbus.Conn) func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// run queues a job and waits for its result, always reading the channel as
// go-systemd requires. Anything but "done" is an error. When the
// connection drops while the job runs, its result signal is lost with it:
// the unit's state, once its job is gone, says how the job ended.
func (m *Manager) run(ctx context.Context, verb, unit string, f jobFunc) error {
	ch := make(chan string, 1)
	var conn *sdbus.Conn
	err := m.call(func(c *sdbus.Conn) error {
		conn = c
		_, err := f(c)(ctx, unit, "replace", ch)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case res := <-ch:
			if res != "done" {
				return &JobError{Unit: unit, Verb: verb, Result: res}
			}
			return nil
		case <-tick.C:
			if conn.Connected() {
				continue
			}
			if _, err := m.redial(conn); err != nil {
				return fmt.Errorf("%s %s: %w", verb, unit, err)
			}
			return m.settle(ctx, verb, unit)
		case <-ctx.Done():
			return fmt.Errorf("%s %s: waiting for the job: %w", verb, unit, ctx.Err())
		}
	}
}

// settle waits until unit has no job queued and judges the job verb by
// the state it left: active after a start, restart or reload; inactive
// after a stop.
func (m *Manager) settle(ctx context.Context, verb, unit string) error {
	for {
		var props map[string]any
		err := m.call(func(c *sdbus.Conn) (err error) {
			props, err = c.GetUnitPropertiesContext(ctx, unit)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s %s: reading its state after the connection was lost: %w", verb, unit, err)
		}
		if !jobPending(props["Job"]) {
			state := str(props["ActiveState"])
			want := "active"
			if verb == "stop" {
				want = "inactive"
			}
			if state != want {
				return &JobError{Unit: unit, Verb: verb, Result: "failed (unit " + state + ")"}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: waiting for the job: %w", verb, unit, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// jobPending reads a unit's Job property, (id, path): id 0 means none.
func jobPending(v any) bool {
	if job, ok := v.([]any); ok && len(job) > 0 {
		id, _ := job[0].(uint32)
		return id != 0
	}
	return false
}

// Restart restarts unit (stop, then start) and waits for the job.
func (m *Manager) Restart(ctx context.Context, unit string) error {
	return m.run(ctx, "restart", unit, func(c *sdbus.Conn) func(context.Context, string, string, chan<- string) (int, error) {
		return c.RestartUnitContext
	})
}

// Reload asks unit to reload its configuration (ExecReload) and waits.
func (m *Manager) Reload(ctx context.Context, unit string) error {
	return m.run(ctx, "reload", unit, func(c *sdbus.Conn) func(context.Context, string, string, chan<- string) (int, error) {
		return c.ReloadUnitContext
	})
}

// Start starts unit and waits.
func (m *Manager) Start(ctx context.Context, unit string) error {
	return m.run(ctx, "start", unit, func(c *sdbus.Conn) func(context.Context, string, string, chan<- string) (int, error) {
		return c.StartUnitContext
	})
}

// Stop stops unit and waits.
func (m *Manager) Stop(ctx context.Context, unit string) error {
	return m.run(ctx, "stop", unit, func(c *sdbus.Conn) func(context.Context, string, string, chan<- string) (int, error) {
		return c.StopUnitContext
	})
}

// ResetFailed clears a failed state so the unit can be started again.
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	return m.call(func(c *sdbus.Conn) error { return c.ResetFailedUnitContext(ctx, unit) })
}

// DaemonReload makes the manager re-read unit files.
func (m *Manager) DaemonReload(ctx context.Context) error {
	return m.call(func(c *sdbus.Conn) error { return c.ReloadContext(ctx) })
}

// UnitOfPID names the unit whose cgroup holds pid (a service or a scope).
func (m *Manager) UnitOfPID(ctx context.Context, pid int) (string, error) {
	var name string
	err := m.call(func(c *sdbus.Conn) (err error) {
		name, err = c.GetUnitNameByPID(ctx, uint32(pid))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("unit of pid %d: %w", pid, err)
	}
	return name, nil
}
