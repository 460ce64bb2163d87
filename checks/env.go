package checks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/state"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

// DefaultStateDir holds liveswap's journal and lock.
const DefaultStateDir = state.DefaultDir

// DefaultDowntime is the daemon's planned downtime when Options leave it
// out: a dockerd restart with live restore takes one to a few seconds, and
// this leaves room for a slow start.
const DefaultDowntime = 10 * time.Second

// Options tune a pre-flight run. The zero value is the default.
type Options struct {
	// Skip lists check IDs (or "all", or a group such as "unit") not to
	// run; they are reported as skipped. The plan's policy.skipChecks adds
	// to it.
	Skip []string
	// Strict makes warnings fail the run.
	Strict bool
	// DockerVersion picks the daemon.json rule set; default: the new
	// binary's version, else the running daemon's.
	DockerVersion string
	// Downtime is how long the daemon is expected to be down; containers
	// whose logs would fill a 64 KiB pipe in that time are warned about.
	Downtime time.Duration
	// StateDir holds the journal and lock; default DefaultStateDir.
	StateDir string
	// LockDir holds the locks of units and files; default state.LockDir("").
	LockDir string
	// VersionTimeout bounds `NEWBINARY --version`; default 10s.
	VersionTimeout time.Duration
	// Manager and Engine reuse the caller's connections; when nil the run
	// opens its own (and closes them when it ends).
	Manager *systemd.Manager
	Engine  engine.Engine
	// Connect opens the systemd connection when Manager is nil; default
	// systemd.Connect. Tests replace it.
	Connect func(ctx context.Context, scope systemd.Scope) (*systemd.Manager, error)
}

func (o *Options) defaults() {
	if o.Downtime <= 0 {
		o.Downtime = DefaultDowntime
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.VersionTimeout <= 0 {
		o.VersionTimeout = 10 * time.Second
	}
	if o.Connect == nil {
		o.Connect = systemd.Connect
	}
}

// Env is what checks run against: the plan, the options, and dependencies
// built on first use and shared by every check of a run. Checks of one Env
// run one after the other (Run does so); the caches are not meant for
// concurrent first use.
type Env struct {
	Plan    *plan.Plan
	Options Options

	mu      sync.Mutex
	ran     map[string]Status
	closers []func()

	mgr        memo[*systemd.Manager]
	unit       memo[*systemd.Unit]
	eng        memo[engine.Engine]
	status     memo[engine.Status]
	containers memo[[]container.InspectResponse]
	versions   map[string]memo[BinaryVersion] // by new file
	validation memo[*Validation]
}

// memo caches one lazily computed value and its error.
type memo[T any] struct {
	done bool
	v    T
	err  error
}

func (m *memo[T]) get(mu *sync.Mutex, f func() (T, error)) (T, error) {
	mu.Lock()
	done := m.done
	mu.Unlock()
	if done {
		return m.v, m.err
	}
	v, err := f()
	mu.Lock()
	m.done, m.v, m.err = true, v, err
	mu.Unlock()
	return v, err
}

// peek returns the value when it was computed without error.
func (m *memo[T]) peek(mu *sync.Mutex) (T, bool) {
	mu.Lock()
	defer mu.Unlock()
	return m.v, m.done && m.err == nil
}

// NewEnv returns an Env for p. Close it when done.
func NewEnv(p *plan.Plan, o Options) *Env {
	o.defaults()
	return &Env{Plan: p, Options: o, ran: map[string]Status{}}
}

// Close releases the connections the Env opened itself.
func (e *Env) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

func (e *Env) record(id string, s Status) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ran[id] = s
}

// Blocked is the result of a check that cannot run because a dependency
// failed with err. When the check that owns the dependency (id) already
// reported the failure, this one is skipped with a pointer to it rather than
// repeating it; when that check was skipped or has not run, the failure is
// reported here so that skipping one check never hides a problem.
func (e *Env) Blocked(id string, err error) Result {
	e.mu.Lock()
	s, ran := e.ran[id]
	e.mu.Unlock()
	if ran && s == Fail {
		return skip("not checked: %s failed", id)
	}
	return fail("fix the cause, or --skip this check", "%v", err)
}

// Manager is the systemd connection of the plan's scope.
func (e *Env) Manager(ctx context.Context) (*systemd.Manager, error) {
	return e.mgr.get(&e.mu, func() (*systemd.Manager, error) {
		if e.Options.Manager != nil {
			return e.Options.Manager, nil
		}
		scope, err := systemd.ParseScope(e.Plan.Target.Systemd)
		if err != nil {
			return nil, err
		}
		m, err := e.Options.Connect(ctx, scope)
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, m.Close)
		return m, nil
	})
}

// Unit reads the target unit's properties over D-Bus.
func (e *Env) Unit(ctx context.Context) (*systemd.Unit, error) {
	return e.unit.get(&e.mu, func() (*systemd.Unit, error) {
		m, err := e.Manager(ctx)
		if err != nil {
			return nil, err
		}
		return m.Unit(ctx, e.Plan.Target.Unit)
	})
}

// LoadedUnit is Unit, failing when the unit is not loaded (no properties
// beyond the load state are known then).
func (e *Env) LoadedUnit(ctx context.Context) (*systemd.Unit, error) {
	u, err := e.Unit(ctx)
	if err != nil {
		return nil, err
	}
	if u.LoadState != "loaded" {
		return nil, fmt.Errorf("unit %s is %s", u.Name, u.LoadState)
	}
	return u, nil
}

// Engine is the client of the target's engine endpoint.
func (e *Env) Engine(ctx context.Context) (engine.Engine, error) {
	return e.eng.get(&e.mu, func() (engine.Engine, error) {
		if e.Options.Engine != nil {
			return e.Options.Engine, nil
		}
		c, err := engine.New(e.Plan.Target.Endpoint)
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, func() { c.Close() })
		return c, nil
	})
}

// Status is what the running daemon says about itself.
func (e *Env) Status(ctx context.Context) (engine.Status, error) {
	return e.status.get(&e.mu, func() (engine.Status, error) {
		c, err := e.Engine(ctx)
		if err != nil {
			return engine.Status{}, err
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := c.Status(actx)
		if err != nil {
			return st, fmt.Errorf("%w (is %s running and listening there? --endpoint names its socket)", err, e.Plan.Target.Unit)
		}
		return st, nil
	})
}

// Containers inspects every running container of the daemon.
func (e *Env) Containers(ctx context.Context) ([]container.InspectResponse, error) {
	return e.containers.get(&e.mu, func() ([]container.InspectResponse, error) {
		if _, err := e.Status(ctx); err != nil {
			return nil, err
		}
		c, _ := e.Engine(ctx)
		list, err := c.Running(ctx)
		if err != nil {
			return nil, err
		}
		var out []container.InspectResponse
		for _, s := range list {
			in, err := c.Inspect(ctx, s.ID)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return nil, err
				}
				continue // removed meanwhile
			}
			out = append(out, in)
		}
		return out, nil
	})
}

// containerName is the name without Docker's leading slash.
func containerName(c container.InspectResponse) string {
	if len(c.Name) > 1 && c.Name[0] == '/' {
		return c.Name[1:]
	}
	if c.Name != "" {
		return c.Name
	}
	if len(c.ID) > 12 {
		return c.ID[:12]
	}
	return c.ID
}
