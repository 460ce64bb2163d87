package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/image"
)

// Options are what a Daemon needs besides its Config.
type Options struct {
	Version string
	// ShimBinary is executed as `ShimBinary RUNDIR` to start a container;
	// default $LIVESWAPD_SHIM_BINARY, else liveswapd-shim beside the
	// daemon's executable (see shimbin.go).
	ShimBinary string
	Log        *slog.Logger
	Level      *slog.LevelVar
	// Getenv reads the environment (tests replace it).
	Getenv func(string) string
}

// Daemon runs containers and serves the Engine API subset.
type Daemon struct {
	opts Options
	log  *slog.Logger

	cfgMu sync.RWMutex
	cfg   config.Config

	mu     sync.RWMutex
	byID   map[string]*Container
	byName map[string]*Container

	events   *eventBus
	images   *image.Store
	execs    execTable
	scopes   *scopeMover
	id       string
	shutting atomic.Bool
	closed   atomic.Bool
	lockFile *os.File
	started  time.Time
	// shimBeside: ShimBinary was found beside the daemon's executable and
	// is checked again before each start (an upgrade may replace it).
	shimBeside bool
}

// NewDaemon prepares the folders, takes the data-root lock and restores
// containers from disk, adopting live shims. It does not listen yet.
func NewDaemon(cfg config.Config, opts Options) (*Daemon, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	shimBeside := false
	if opts.ShimBinary == "" {
		p, beside, err := defaultShim(opts.Getenv)
		if err != nil {
			return nil, err
		}
		opts.ShimBinary, shimBeside = p, beside
	}
	d := &Daemon{
		opts: opts, log: opts.Log, cfg: cfg,
		byID: map[string]*Container{}, byName: map[string]*Container{},
		events: newEventBus(), started: time.Now(), shimBeside: shimBeside,
	}
	if _, err := d.shimBinary(); err != nil {
		d.log.Warn("containers cannot start", "err", err)
	}
	for _, dir := range []string{cfg.DataRoot, d.containersDir(), cfg.ExecRoot, d.runsDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	lf, err := os.OpenFile(filepath.Join(cfg.DataRoot, "liveswapd.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the data-root lock: %w", err)
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("data-root %s is in use by another liveswapd (lock %s held); stop it or pick another data-root: %w", cfg.DataRoot, lf.Name(), err)
	}
	d.lockFile = lf
	d.sweepExecs()
	if d.images, err = image.Open(filepath.Join(cfg.DataRoot, "images")); err != nil {
		d.Close()
		return nil, fmt.Errorf("opening the image store: %w", err)
	}
	d.id, err = d.engineID()
	if err != nil {
		d.Close()
		return nil, err
	}
	d.scopes = newScopeMover(opts.Getenv, d.log)
	if err := d.restore(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) containersDir() string { return filepath.Join(d.cfg.DataRoot, "containers") }

func (d *Daemon) runsDir() string { return filepath.Join(d.cfg.ExecRoot, "containers") }

// Version is the daemon's version, as the API reports it.
func (d *Daemon) Version() string { return d.opts.Version }

// Log is the daemon's logger.
func (d *Daemon) Log() *slog.Logger { return d.log }

// EngineID is the daemon's ID, kept in its data root.
func (d *Daemon) EngineID() string { return d.id }

// StartedAt is when the daemon started.
func (d *Daemon) StartedAt() time.Time { return d.started }

// Images is the daemon's image store.
func (d *Daemon) Images() *image.Store { return d.images }

// Config returns the current configuration.
func (d *Daemon) Config() config.Config {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.cfg
}

// Reload applies a new configuration read on SIGHUP: live-restore and the
// log level change at once; other keys need a restart and are reported.
func (d *Daemon) Reload(n config.Config) {
	d.cfgMu.Lock()
	old := d.cfg
	d.cfg.LiveRestore = n.LiveRestore
	d.cfg.LogLevel = n.LogLevel
	d.cfg.Debug = n.Debug
	d.cfg.ShutdownTimeout = n.ShutdownTimeout
	// Judged at each create and start: a reload may grant or withdraw the
	// host image, or name another runc (running containers keep theirs).
	d.cfg.AllowHostImage = n.AllowHostImage
	d.cfg.RuncBinary = n.RuncBinary
	d.cfgMu.Unlock()
	if d.opts.Level != nil {
		d.opts.Level.Set(n.Level())
	}
	if old.DataRoot != n.DataRoot || old.ExecRoot != n.ExecRoot || old.Pidfile != n.Pidfile || strings.Join(old.Hosts, ",") != strings.Join(n.Hosts, ",") {
		d.log.Warn("reload: data-root, exec-root, pidfile and hosts take effect only after a restart; keeping the running values")
	}
	d.log.Info("configuration reloaded", "live-restore", n.LiveRestore, "log-level", n.LogLevel, "debug", n.Debug, "shutdown-timeout", n.ShutdownTimeout)
	d.events.publish(events.Message{Type: events.DaemonEventType, Action: events.ActionReload, Actor: events.Actor{ID: d.id, Attributes: map[string]string{"live-restore": fmt.Sprint(n.LiveRestore)}}})
}

func (d *Daemon) engineID() (string, error) {
	p := filepath.Join(d.cfg.DataRoot, "engine-id")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	id := newID()
	if err := atomicfile.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, nil
}

func newID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Close releases the data-root lock and the D-Bus connection. Containers
// are left as they are.
func (d *Daemon) Close() {
	d.shutting.Store(true)
	d.closed.Store(true)
	d.scopes.close()
	if d.lockFile != nil {
		d.lockFile.Close()
	}
}

// --- lookup ---

// Get finds a container by full ID, name (with or without "/") or unique
// ID prefix.
func (d *Daemon) Get(ref string) (*Container, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if c, ok := d.byID[ref]; ok {
		return c, nil
	}
	if c, ok := d.byName[strings.TrimPrefix(ref, "/")]; ok {
		return c, nil
	}
	if ref != "" && isHex(ref) {
		var found *Container
		for id, c := range d.byID {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, fmt.Errorf("multiple IDs found with provided prefix: %s: %w", ref, ErrInvalid)
				}
				found = c
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("No such container: %s: %w", ref, ErrNotFound)
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// List returns all containers, newest first.
func (d *Daemon) List() []*Container {
	d.mu.RLock()
	out := make([]*Container, 0, len(d.byID))
	for _, c := range d.byID {
		out = append(out, c)
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].spec.Created.Equal(out[j].spec.Created) {
			return out[i].spec.Created.After(out[j].spec.Created)
		}
		return out[i].spec.ID < out[j].spec.ID
	})
	return out
}

// --- create ---

// Shutdown prepares the daemon's exit. With live-restore on, containers
// are left running; otherwise each gets its stop signal and, after
// shutdown-timeout, SIGKILL.
func (d *Daemon) Shutdown(ctx context.Context) {
	d.shutting.Store(true)
	// The sessions end with the daemon: their commands too (endExecs).
	d.endExecs()
	cfg := d.Config()
	if cfg.LiveRestore {
		d.log.Info("live-restore is on: leaving containers running")
		return
	}
	timeout := cfg.ShutdownTimeout
	var wg sync.WaitGroup
	for _, c := range d.List() {
		c.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
		running := c.st.Status == StatusRunning
		c.mu.Unlock()
		if !running {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.op.Lock()
			defer c.op.Unlock()
			if err := d.stopLocked(ctx, c, &timeout, false); err != nil && !errors.Is(err, ErrNotModified) {
				d.log.Error("stopping container at shutdown", "container", c.spec.ID[:12], "err", err)
			}
		}()
	}
	wg.Wait()
	d.log.Info("containers stopped (live-restore is off)")
}

// Counts returns the numbers for /info.
func (d *Daemon) Counts() (total, running, paused, stopped int) {
	for _, c := range d.List() {
		_, st := c.Snapshot()
		total++
		if st.Status == StatusRunning || st.Status == StatusRestarting {
			running++
		} else {
			stopped++
		}
	}
	return
}
