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
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/namesgenerator"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/pidfd"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/health"
	"github.com/liveswap/liveswap/runtime/image"
	"github.com/liveswap/liveswap/runtime/oci"
	"github.com/liveswap/liveswap/runtime/shim"
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

// restoreParallelism bounds concurrent shim adoption at start.
const restoreParallelism = 32

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
func (d *Daemon) runsDir() string       { return filepath.Join(d.cfg.ExecRoot, "containers") }

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

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// Create registers a new container. Warnings are returned to the client.
func (d *Daemon) Create(name string, cfg *container.Config, hc *container.HostConfig) (*Container, []string, error) {
	if d.shutting.Load() {
		return nil, nil, errShuttingDown
	}
	if cfg == nil {
		return nil, nil, fmt.Errorf("config cannot be empty in order to create a container: %w", ErrInvalid)
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	var warnings []string
	ref, err := d.resolveImage(cfg.Image)
	if err != nil {
		return nil, nil, err
	}
	root := ref.root
	if ref.img != nil {
		warnings = append(warnings, withImageDefaults(cfg, ref.img.Config.Config)...)
	}
	if err := health.Check(cfg.Healthcheck); err != nil {
		return nil, nil, err
	}
	if err := d.checkIsolation(root, cfg, hc); err != nil {
		return nil, nil, err
	}
	switch nm := string(hc.NetworkMode); nm {
	case "", "default", "host":
		if nm == "" {
			hc.NetworkMode = "default"
		}
	case "none":
		if root == "" {
			return nil, nil, fmt.Errorf("network mode none needs a root folder image: image host runs in the host's namespaces: %w", ErrUnsupported)
		}
	default:
		return nil, nil, fmt.Errorf("network mode %q is not supported by liveswapd: containers share the host's network or have none; use --network host (or default) or --network none: %w", nm, ErrInvalid)
	}
	if len(hc.PortBindings) > 0 || len(cfg.ExposedPorts) > 0 && hc.PublishAllPorts {
		warnings = append(warnings, "Published ports are discarded when using host network mode")
		hc.PortBindings = nil
	}
	if err := validPolicy(hc.RestartPolicy); err != nil {
		return nil, nil, err
	}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return nil, nil, fmt.Errorf("can't create 'AutoRemove' container with restart policy: %w", ErrInvalid)
	}
	if root == "" {
		if err := checkBinds(root, hc); err != nil {
			return nil, nil, err
		}
	}
	if err := d.resolveLogConfig(hc); err != nil {
		return nil, nil, err
	}
	if len(cfg.Volumes) > 0 {
		return nil, nil, fmt.Errorf("anonymous volumes (VOLUME, -v /path) are not supported by liveswapd; use -v /host/path:/path: %w", ErrUnsupported)
	}
	if cfg.Tty || cfg.OpenStdin {
		return nil, nil, fmt.Errorf("a terminal and standard input (-t, -i) are not supported by liveswapd: a container's output goes to its log, which docker run, attach and logs stream; run it without -t and -i: %w", ErrUnsupported)
	}
	if (cfg.AttachStdout || cfg.AttachStderr) && hc.LogConfig.Type == config.LogDriverNone {
		return nil, nil, fmt.Errorf("a foreground run streams the container's log, and log driver none keeps none: run it detached (-d) or with --log-driver json-file: %w", ErrUnsupported)
	}
	args := append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("no command specified (image %q has no default command): %w", cfg.Image, ErrInvalid)
	}
	if _, _, err := resolveUser(root, cfg.User); err != nil {
		return nil, nil, err
	}
	if root != "" {
		// Everything the bundle will hold is judged now, so a refused flag
		// creates nothing.
		if _, err := resolveGroups(root, hc.GroupAdd); err != nil {
			return nil, nil, err
		}
		draft := containerSpec{Root: root, Path: args[0], Args: args[1:], Config: cfg, HostConfig: hc}
		if _, err := oci.Build(ociInput(draft)); err != nil {
			return nil, nil, err
		}
	}
	if name != "" && !validName.MatchString(name) {
		return nil, nil, fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, ErrInvalid)
	}
	name = strings.TrimPrefix(name, "/")

	id := newID()
	d.mu.Lock()
	if name == "" {
		for i := 0; ; i++ {
			name = namesgenerator.GetRandomName(i)
			if _, taken := d.byName[name]; !taken {
				break
			}
		}
	}
	if other, taken := d.byName[name]; taken {
		d.mu.Unlock()
		return nil, nil, fmt.Errorf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name: %w", name, other.spec.ID, ErrConflict)
	}
	spec := containerSpec{
		Version: shim.ProtoVersion, ID: id, Name: name, Created: time.Now().UTC(), Image: cfg.Image, Root: root,
		Path: args[0], Args: args[1:], Config: cfg, HostConfig: hc,
	}
	if ref.img != nil {
		spec.ImageID = ref.img.ID
	}
	c := newContainer(spec, containerState{Status: StatusCreated}, filepath.Join(d.containersDir(), id), filepath.Join(d.runsDir(), id))
	// Reserve the name before the disk writes so a concurrent create of the
	// same name gets a conflict.
	d.byName[name] = c
	d.mu.Unlock()

	err = func() error {
		if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", c.dataDir, err)
		}
		if spec.ImageID != "" {
			// The container's own root: an overlay on the image, or a copy.
			r, err := d.images.Prepare(spec.ImageID, c.dataDir)
			if err != nil {
				return err
			}
			spec.Root = r
			c.mu.Lock()
			c.spec.Root = r
			c.mu.Unlock()
		}
		if err := atomicfile.WriteJSON(filepath.Join(c.dataDir, "config.json"), spec, 0o600); err != nil {
			return err
		}
		return atomicfile.WriteJSON(filepath.Join(c.dataDir, "state.json"), c.st, 0o600)
	}()
	d.mu.Lock()
	if err != nil {
		delete(d.byName, name)
		d.mu.Unlock()
		image.Unmount(c.dataDir)
		removeDirAtomic(c.dataDir)
		return nil, nil, err
	}
	d.byID[id] = c
	d.mu.Unlock()
	d.event(c, events.ActionCreate, nil)
	return c, warnings, nil
}

// resolveLogConfig fills a container's log driver from the daemon's
// defaults, as dockerd does (no driver: the default driver and options;
// the default driver: the default options under the container's own), and
// refuses what liveswapd does not implement.
func (d *Daemon) resolveLogConfig(hc *container.HostConfig) error {
	cfg := d.Config()
	lc := &hc.LogConfig
	if lc.Type == "" || lc.Type == cfg.LogDriver {
		if lc.Type == "" {
			lc.Type = cfg.LogDriver
		}
		opts := map[string]string{}
		for k, v := range cfg.LogOpts {
			opts[k] = v
		}
		for k, v := range lc.Config {
			opts[k] = v
		}
		lc.Config = opts
	}
	if lc.Config == nil {
		lc.Config = map[string]string{}
	}
	_, err := config.ParseLogConfig(lc.Type, lc.Config)
	return err
}

// checkBinds accepts bind mounts only where they change nothing: with image
// host, source and destination must be the same path (the container sees
// the host filesystem anyway). liveswapd makes no mount namespaces, so
// binds into a root folder are refused.
func checkBinds(root string, hc *container.HostConfig) error {
	check := func(src, dst string) error {
		if root != "" {
			return fmt.Errorf("bind mount %s:%s: mounts are not supported with a root folder image; use image host: %w", src, dst, ErrUnsupported)
		}
		if filepath.Clean(src) != filepath.Clean(dst) {
			return fmt.Errorf("bind mount %s:%s: with image host the container sees the host filesystem, so source and destination must be the same path (-v %s:%s): %w", src, dst, src, src, ErrUnsupported)
		}
		if !filepath.IsAbs(src) {
			return fmt.Errorf("bind mount %s:%s: named volumes are not supported by liveswapd; use an absolute host path: %w", src, dst, ErrUnsupported)
		}
		return nil
	}
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 {
			return fmt.Errorf("bind mount %q: anonymous volumes are not supported by liveswapd; use -v /path:/path: %w", b, ErrUnsupported)
		}
		if err := check(parts[0], parts[1]); err != nil {
			return err
		}
	}
	for _, m := range hc.Mounts {
		if m.Type != "bind" {
			return fmt.Errorf("mount of type %q is not supported by liveswapd; only bind mounts with the same path on both sides: %w", m.Type, ErrUnsupported)
		}
		if err := check(m.Source, m.Target); err != nil {
			return err
		}
	}
	return nil
}

// --- start ---

// Start starts a container's shim and process.
func (d *Daemon) Start(ctx context.Context, c *Container) error {
	c.op.Lock()
	defer c.op.Unlock()
	return d.startLocked(ctx, c, false)
}

// startLocked starts a run; c.op must be held. byPolicy marks restarts
// done by the restart policy, which count in RestartCount.
func (d *Daemon) startLocked(ctx context.Context, c *Container, byPolicy bool) error {
	if d.shutting.Load() {
		return errShuttingDown
	}
	c.mu.Lock()
	if c.removed {
		c.mu.Unlock()
		return fmt.Errorf("No such container: %s: %w", c.spec.ID, ErrNotFound)
	}
	if c.st.Status == StatusRunning {
		c.mu.Unlock()
		return ErrNotModified
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if !byPolicy {
		c.st.ManuallyStopped = false
	}
	spec := c.spec
	c.mu.Unlock()

	ps, oci, err := d.processSpec(c, spec)
	if err != nil {
		return err
	}
	rec, shimExited, err := d.spawnShim(ctx, c, ps, oci)
	if err != nil {
		c.mu.Lock()
		c.st.Status = StatusExited
		c.st.Error = err.Error()
		if c.st.ExitCode == 0 {
			c.st.ExitCode = 128
		}
		c.saveLocked()
		c.notifyLocked()
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	c.gen++
	gen := c.gen
	if byPolicy {
		c.st.RestartCount++
	}
	c.st.Status = StatusRunning
	c.st.Pid, c.st.PidStart = rec.Pid, rec.PidStart
	c.st.ShimPid, c.st.ShimStart = rec.ShimPid, rec.ShimStart
	c.st.StartedAt = rec.StartedAt
	c.st.ExitCode, c.st.Error, c.st.OOMKilled = 0, "", false
	c.st.Health = nil
	if args, _ := health.Test(spec.Config.Healthcheck); args != nil {
		c.st.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
	}
	c.exited = make(chan struct{})
	if err := c.saveLocked(); err != nil {
		d.log.Error("saving container state", "container", spec.ID[:12], "err", err)
	}
	c.notifyLocked()
	c.mu.Unlock()
	go d.watch(c, gen, shimExited)
	d.event(c, events.ActionStart, nil)
	return nil
}

// processSpec builds what the shim runs, and for a root folder image the
// OCI runtime spec runc runs it with.
func (d *Daemon) processSpec(c *Container, spec containerSpec) (shim.Process, *specs.Spec, error) {
	uid, gid, err := resolveUser(spec.Root, spec.Config.User)
	if err != nil {
		return shim.Process{}, nil, err
	}
	host, _ := os.Hostname()
	if spec.Root != "" && spec.HostConfig.NetworkMode.IsNone() {
		host = spec.ID[:12] // dockerd's default outside the host's network
	}
	if spec.Config.Hostname != "" {
		host = spec.Config.Hostname
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + host}
	env = mergeEnv(env, spec.Config.Env)
	lc, err := config.ParseLogConfig(spec.HostConfig.LogConfig.Type, spec.HostConfig.LogConfig.Config)
	if err != nil {
		return shim.Process{}, nil, err
	}
	ps := shim.Process{
		Version: shim.ProtoVersion, ID: spec.ID,
		Args: append([]string{spec.Path}, spec.Args...), Env: env,
		Cwd: spec.Config.WorkingDir, Root: spec.Root, UID: uid, GID: gid,
		LogPath: c.logPath(), LogMaxSize: lc.MaxSize, LogMaxFiles: lc.MaxFiles,
	}
	if lc.Driver == config.LogDriverNone {
		ps.LogPath = ""
	}
	if spec.Root == "" {
		return ps, nil, nil
	}
	if spec.ImageID != "" {
		// After a reboot the overlay is gone; mount it again.
		if err := d.images.Mount(spec.ImageID, c.dataDir); err != nil {
			return shim.Process{}, nil, err
		}
	}
	runc, err := d.runcPath()
	if err != nil {
		return shim.Process{}, nil, err
	}
	oci, err := d.bundle(c, spec, uid, gid, env, host)
	if err != nil {
		return shim.Process{}, nil, err
	}
	ps.Runc = &shim.Runc{Binary: runc, Root: filepath.Join(d.Config().ExecRoot, "runc")}
	return ps, oci, nil
}

// mergeEnv overrides base with extra, by variable name.
func mergeEnv(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, o := range out {
			if ok, _, _ := strings.Cut(o, "="); ok == k {
				out[i] = kv
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// spawnShim starts a shim for a fresh run folder and waits until it
// reports the container started (shim.json) or failed (exit.json).
func (d *Daemon) spawnShim(ctx context.Context, c *Container, ps shim.Process, oci *specs.Spec) (shim.Record, <-chan struct{}, error) {
	id := ps.ID
	shimBin, err := d.shimBinary()
	if err != nil {
		return shim.Record{}, nil, err
	}
	if err := runDirFree(c.runDir); err != nil {
		return shim.Record{}, nil, err
	}
	if err := removeDirAtomic(c.runDir); err != nil {
		return shim.Record{}, nil, err
	}
	if err := os.MkdirAll(c.runDir, 0o700); err != nil {
		return shim.Record{}, nil, fmt.Errorf("creating run folder: %w", err)
	}
	if err := atomicfile.WriteJSON(filepath.Join(c.runDir, shim.ProcessFile), ps, 0o600); err != nil {
		return shim.Record{}, nil, err
	}
	if oci != nil {
		// The run folder is the OCI bundle runc is given.
		if err := atomicfile.WriteJSON(filepath.Join(c.runDir, shim.BundleFile), oci, 0o600); err != nil {
			return shim.Record{}, nil, err
		}
	}
	shimLog, err := os.OpenFile(filepath.Join(c.runDir, shim.LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return shim.Record{}, nil, fmt.Errorf("creating shim log: %w", err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		shimLog.Close()
		return shim.Record{}, nil, err
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		shimLog.Close()
		devnull.Close()
		return shim.Record{}, nil, err
	}
	shimFD := -1
	attr := &syscall.ProcAttr{
		// The run folder, which the shim names its files relative to.
		Dir: c.runDir,
		// A small, fixed environment: the shim must not inherit the daemon's
		// NOTIFY_SOCKET and the like. GOMAXPROCS/GOGC keep its footprint low.
		Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GOMAXPROCS=1", "GOGC=25"},
		Files: []uintptr{devnull.Fd(), shimLog.Fd(), shimLog.Fd(), syncR.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, PidFD: &shimFD},
	}
	pid, err := syscall.ForkExec(shimBin, []string{ShimName, c.runDir}, attr)
	syncR.Close()
	shimLog.Close()
	devnull.Close()
	if err != nil {
		syncW.Close()
		return shim.Record{}, nil, fmt.Errorf("starting shim %s: %w", shimBin, err)
	}
	// The pidfd must be non-blocking for Go's poller (CLONE_PIDFD gives a
	// blocking one).
	unix.SetNonblock(shimFD, true)
	exited := pidfd.Wait(shimFD)
	// Record the shim before it may start anything: a daemon restarted
	// from here on finds it and adopts it instead of starting another.
	// Without the record the shim gets no go-ahead and starts nothing.
	shimProc, _ := procfs.Stat(pid)
	if err := atomicfile.WriteJSON(filepath.Join(c.runDir, shim.SpawnFile), shim.Spawn{Version: shim.ProtoVersion, ShimPid: pid, ShimStart: shimProc.Start, SpawnedAt: time.Now().UTC()}, 0o600); err != nil || !shimProc.Exists {
		syncW.Close()
		<-exited
		reap(pid)
		return shim.Record{}, nil, fmt.Errorf("recording shim %d in %s (nothing was started): %v", pid, c.runDir, errors.Join(err, errors.New("shim not found in /proc")))
	}
	if d.scopes != nil {
		if unit, err := d.scopes.move(ctx, id, pid); err != nil {
			d.log.Warn("shim left in the daemon's cgroup: a restart of the daemon's unit with KillMode=control-group would kill this container", "container", id[:12], "err", err)
		} else {
			d.log.Debug("shim moved to its scope", "container", id[:12], "scope", unit)
		}
	}
	syncW.Write([]byte{1})
	syncW.Close()

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		var rec shim.Record
		if err := atomicfile.ReadJSON(filepath.Join(c.runDir, shim.RecordFile), &rec); err == nil {
			go func() { <-exited; reap(pid) }()
			return rec, exited, nil
		}
		var ex shim.Exit
		if err := atomicfile.ReadJSON(filepath.Join(c.runDir, shim.ExitFile), &ex); err == nil {
			go func() { <-exited; reap(pid) }()
			msg := ex.Error
			if msg == "" {
				msg = fmt.Sprintf("exited with code %d before starting", ex.ExitCode)
			}
			c.mu.Lock()
			c.st.ExitCode = ex.ExitCode
			c.mu.Unlock()
			return shim.Record{}, nil, fmt.Errorf("failed to create task for container: %s: %w", msg, errStartFailed)
		}
		select {
		case <-exited:
			// Check the files once more: the shim may have written them
			// just before exiting.
			if fileExists(filepath.Join(c.runDir, shim.RecordFile)) || fileExists(filepath.Join(c.runDir, shim.ExitFile)) {
				continue
			}
			reap(pid)
			b, _ := os.ReadFile(filepath.Join(c.runDir, shim.LogFile))
			return shim.Record{}, nil, fmt.Errorf("shim exited before starting the container: %s", strings.TrimSpace(string(b)))
		case <-deadline.C:
			syscall.Kill(pid, syscall.SIGKILL)
			return shim.Record{}, nil, fmt.Errorf("shim did not start the container within 30s (see %s)", filepath.Join(c.runDir, shim.LogFile))
		case <-tick.C:
		}
	}
}

var errStartFailed = errors.New("start failed")

// runDirFree refuses to replace a run folder whose shim still lives:
// removing it would let a second shim run the same container.
func runDirFree(runDir string) error {
	obs := observeShim(runDir)
	switch shim.Decide(obs) {
	case shim.Alive, shim.Starting:
		pid, _, _ := obs.Shim()
		return fmt.Errorf("the previous shim of this container (pid %d, run folder %s) still runs; stop or remove the container first, or wait for that shim to end: %w", pid, runDir, ErrConflict)
	}
	return nil
}

// reap collects the exit status of a shim that is our child.
func reap(pid int) {
	var st unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &st, unix.WNOHANG, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// watch waits for a shim to exit and records the container's end.
func (d *Daemon) watch(c *Container, gen int, shimExited <-chan struct{}) {
	go d.monitorHealth(c, gen)
	<-shimExited
	d.handleExit(c, gen)
}

// handleExit records how the run ended (from exit.json) and applies the
// restart policy.
func (d *Daemon) handleExit(c *Container, gen int) {
	if d.closed.Load() {
		return // the next daemon will read exit.json
	}
	c.mu.Lock()
	if gen != c.gen || c.st.Status != StatusRunning {
		c.mu.Unlock()
		return
	}
	var ex shim.Exit
	if err := atomicfile.ReadJSON(filepath.Join(c.runDir, shim.ExitFile), &ex); err != nil {
		ex = shim.Exit{ExitCode: 255, Error: "the shim exited without recording the container's exit status", FinishedAt: time.Now().UTC()}
	}
	d.recordExitLocked(c, ex)
	exitCode := c.st.ExitCode
	c.mu.Unlock()
	d.event(c, events.ActionDie, map[string]string{"exitCode": fmt.Sprint(exitCode)})
	d.maybeRestart(c, false)
}

// recordExitLocked sets the state of an ended run; c.mu must be held.
func (d *Daemon) recordExitLocked(c *Container, ex shim.Exit) {
	c.st.Status = StatusExited
	c.st.ExitCode = ex.ExitCode
	c.st.Error = ex.Error
	c.st.OOMKilled = ex.OOMKilled
	c.st.FinishedAt = ex.FinishedAt
	c.st.Pid, c.st.PidStart, c.st.ShimPid, c.st.ShimStart = 0, 0, 0, 0
	if err := c.saveLocked(); err != nil {
		d.log.Error("saving container state", "container", c.spec.ID[:12], "err", err)
	}
	if c.exited != nil {
		close(c.exited)
		c.exited = nil
	}
	c.notifyLocked()
}

// maybeRestart schedules a policy restart with dockerd's back-off: 100 ms,
// doubling, reset after a run of 10 s or more.
func (d *Daemon) maybeRestart(c *Container, daemonStart bool) {
	if d.shutting.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed || c.st.Status != StatusExited {
		return
	}
	if !RestartPolicy(c.spec.HostConfig.RestartPolicy, c.st.ExitCode, c.st.RestartCount, c.st.ManuallyStopped, daemonStart) {
		if c.spec.HostConfig.AutoRemove && !daemonStart {
			go d.Remove(context.Background(), c, false)
		}
		return
	}
	ran := c.st.FinishedAt.Sub(c.st.StartedAt)
	switch {
	case daemonStart, ran >= 10*time.Second || c.backoff == 0:
		c.backoff = 100 * time.Millisecond
	default:
		c.backoff = min(c.backoff*2, time.Minute)
	}
	delay := c.backoff
	if daemonStart {
		delay = 0
	}
	c.st.Status = StatusRestarting
	c.saveLocked()
	c.notifyLocked()
	c.timer = time.AfterFunc(delay, func() {
		c.op.Lock()
		defer c.op.Unlock()
		c.mu.Lock()
		if c.st.Status != StatusRestarting || c.removed {
			c.mu.Unlock()
			return
		}
		c.st.Status = StatusExited
		c.timer = nil
		c.mu.Unlock()
		if err := d.startLocked(context.Background(), c, true); err != nil && !errors.Is(err, ErrNotModified) {
			d.log.Warn("restart by policy failed", "container", c.spec.ID[:12], "err", err)
			d.maybeRestart(c, false)
		}
	})
}

// --- stop, kill, restart, remove, wait ---

// Stop sends the stop signal, waits up to timeout, then kills.
func (d *Daemon) Stop(ctx context.Context, c *Container, timeout *int) error {
	c.op.Lock()
	defer c.op.Unlock()
	return d.stopLocked(ctx, c, timeout, true)
}

func (d *Daemon) stopLocked(ctx context.Context, c *Container, timeout *int, manual bool) error {
	c.mu.Lock()
	if manual {
		c.st.ManuallyStopped = true
		c.saveLocked()
	}
	if c.st.Status == StatusRestarting {
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
		c.st.Status = StatusExited
		c.saveLocked()
		c.notifyLocked()
		c.mu.Unlock()
		return nil
	}
	if c.st.Status != StatusRunning {
		c.mu.Unlock()
		return ErrNotModified
	}
	exited := c.exited
	sigName := c.spec.Config.StopSignal
	wait := 10 * time.Second
	if c.spec.Config.StopTimeout != nil {
		wait = time.Duration(*c.spec.Config.StopTimeout) * time.Second
	}
	c.mu.Unlock()
	if timeout != nil {
		wait = time.Duration(*timeout) * time.Second
	}
	sig := syscall.SIGTERM
	if sigName != "" {
		if s, err := ParseSignal(sigName); err == nil {
			sig = s
		}
	}
	if wait < 0 {
		wait = 365 * 24 * time.Hour
	}
	if err := d.signalRun(ctx, c, sig); err != nil && !errors.Is(err, errProcessGone) {
		d.log.Warn("sending stop signal", "container", c.spec.ID[:12], "err", err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(wait):
	case <-ctx.Done():
	}
	if err := d.signalRun(ctx, c, syscall.SIGKILL); err != nil && !errors.Is(err, errProcessGone) {
		return fmt.Errorf("killing container %s: %w", c.spec.ID[:12], err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("container %s did not exit 30s after SIGKILL", c.spec.ID[:12])
	}
}

// pendingWait bounds how long a signal waits for an adopted shim that has
// not recorded the container's process yet.
const pendingWait = 2 * time.Second

// signalRun sends sig to the container's process. A run adopted while its
// shim was starting has no process pid yet: the signal waits a moment for
// it; if it is still unknown, a terminating signal kills the shim's whole
// session (the shim and whatever it started), and other signals are
// refused.
func (d *Daemon) signalRun(ctx context.Context, c *Container, sig syscall.Signal) error {
	deadline := time.NewTimer(pendingWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		st, changed := c.st, c.changed
		c.mu.Unlock()
		if st.Status != StatusRunning {
			return errProcessGone
		}
		if st.Pid != 0 {
			return signalGuarded(st.Pid, st.PidStart, sig)
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		case <-deadline.C:
		}
		switch sig {
		case syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT:
			d.log.Warn("the shim has not started the container's process yet; killing its session", "container", c.spec.ID[:12], "shim", st.ShimPid)
			return killSession(st.ShimPid, st.ShimStart)
		}
		return fmt.Errorf("container %s is starting (its shim, pid %d, has not recorded the process yet); try again: %w", c.spec.ID[:12], st.ShimPid, ErrConflict)
	}
}

// Kill sends sig to the container's process.
func (d *Daemon) Kill(ctx context.Context, c *Container, sig syscall.Signal) error {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	if c.st.Status != StatusRunning {
		c.mu.Unlock()
		return fmt.Errorf("Cannot kill container: %s: container %s is not running: %w", c.spec.ID, c.spec.ID, ErrConflict)
	}
	// As in dockerd, a container killed by hand is not restarted by
	// its policy.
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		c.st.ManuallyStopped = true
		c.saveLocked()
	}
	exited := c.exited
	c.mu.Unlock()
	d.event(c, events.ActionKill, map[string]string{"signal": fmt.Sprint(int(sig))})
	if err := d.signalRun(ctx, c, sig); err != nil {
		if errors.Is(err, errProcessGone) {
			return nil
		}
		return fmt.Errorf("Cannot kill container: %s: %w", c.spec.ID, err)
	}
	if sig == syscall.SIGKILL {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
	}
	return nil
}

// Restart stops (if running) and starts the container.
func (d *Daemon) Restart(ctx context.Context, c *Container, timeout *int) error {
	c.op.Lock()
	defer c.op.Unlock()
	if err := d.stopLocked(ctx, c, timeout, true); err != nil && !errors.Is(err, ErrNotModified) {
		return err
	}
	if err := d.startLocked(ctx, c, false); err != nil && !errors.Is(err, ErrNotModified) {
		return err
	}
	d.event(c, events.ActionRestart, nil)
	return nil
}

// Remove deletes a container; force kills it first if it runs.
func (d *Daemon) Remove(ctx context.Context, c *Container, force bool) error {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	running := c.st.Status == StatusRunning
	if c.removed {
		c.mu.Unlock()
		return fmt.Errorf("No such container: %s: %w", c.spec.ID, ErrNotFound)
	}
	c.mu.Unlock()
	if running {
		if !force {
			return fmt.Errorf("You cannot remove a running container %s. Stop the container before attempting removal or force remove: %w", c.spec.ID, ErrConflict)
		}
		zero := 0
		c.mu.Lock()
		c.st.ManuallyStopped = true
		c.mu.Unlock()
		if err := d.stopLockedSignal(ctx, c, syscall.SIGKILL, &zero); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.removed = true
	c.st.Status = StatusRemoving
	c.notifyLocked()
	c.mu.Unlock()
	d.mu.Lock()
	delete(d.byID, c.spec.ID)
	if d.byName[c.spec.Name] == c {
		delete(d.byName, c.spec.Name)
	}
	d.mu.Unlock()
	err1 := removeDirAtomic(c.runDir)
	// The overlay goes first: the removal must not reach through it.
	err2 := image.Unmount(c.dataDir)
	if err2 == nil {
		err2 = removeDirAtomic(c.dataDir)
	}
	d.event(c, events.ActionDestroy, nil)
	return errors.Join(err1, err2)
}

// stopLockedSignal kills with sig directly (rm -f); c.op must be held.
func (d *Daemon) stopLockedSignal(ctx context.Context, c *Container, sig syscall.Signal, _ *int) error {
	c.mu.Lock()
	if c.st.Status != StatusRunning {
		c.mu.Unlock()
		return nil
	}
	exited := c.exited
	c.mu.Unlock()
	if err := d.signalRun(ctx, c, sig); err != nil && !errors.Is(err, errProcessGone) {
		return fmt.Errorf("killing container %s: %w", c.spec.ID[:12], err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("container %s did not exit 30s after %v", c.spec.ID[:12], sig)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait blocks until the condition holds and returns the exit code.
func (d *Daemon) Wait(ctx context.Context, c *Container, condition container.WaitCondition) (int, error) {
	c.mu.Lock()
	sawRunning := c.st.Status == StatusRunning || c.st.Status == StatusRestarting
	startGen := c.gen
	c.mu.Unlock()
	for {
		c.mu.Lock()
		st, removed, ch, gen := c.st, c.removed, c.changed, c.gen
		c.mu.Unlock()
		switch condition {
		case container.WaitConditionRemoved:
			if removed {
				return st.ExitCode, nil
			}
		case container.WaitConditionNextExit:
			if (sawRunning || gen > startGen) && st.Status != StatusRunning && st.Status != StatusRestarting {
				return st.ExitCode, nil
			}
			if removed {
				return st.ExitCode, nil
			}
		default: // not-running
			if st.Status != StatusRunning && st.Status != StatusRestarting {
				return st.ExitCode, nil
			}
		}
		if st.Status == StatusRunning {
			sawRunning = true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// --- restore and shutdown ---

// restore loads every container folder (skipping hidden ones) and adopts
// live shims, in parallel with a limit. With live-restore off, as dockerd,
// containers a previous daemon left running are stopped, not kept.
func (d *Daemon) restore() error {
	sweepHidden(d.containersDir())
	sweepHidden(d.runsDir())
	ents, err := os.ReadDir(d.containersDir())
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.containersDir(), err)
	}
	results := make([]restored, len(ents))
	sem := make(chan struct{}, restoreParallelism)
	var wg sync.WaitGroup
	for i, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := d.restoreOne(e.Name())
			if err != nil {
				d.log.Error("restoring container; skipping it", "container", e.Name(), "err", err)
				return
			}
			results[i] = r
		}()
	}
	wg.Wait()
	adopted, ended := 0, 0
	d.mu.Lock()
	for _, r := range results {
		if r.c == nil {
			continue
		}
		if other, taken := d.byName[r.c.spec.Name]; taken {
			d.log.Error("two containers share a name; renaming the newer", "name", r.c.spec.Name, "ids", []string{other.spec.ID[:12], r.c.spec.ID[:12]})
			r.c.spec.Name = r.c.spec.Name + "_" + r.c.spec.ID[:6]
		}
		d.byID[r.c.spec.ID] = r.c
		d.byName[r.c.spec.Name] = r.c
	}
	d.mu.Unlock()
	var left []*Container
	for _, r := range results {
		if r.c == nil {
			continue
		}
		if r.adoptedFD >= 0 {
			adopted++
			left = append(left, r.c)
			if r.starting {
				go d.awaitStart(r.c, r.c.gen, pidfd.Wait(r.adoptedFD))
			} else {
				go d.watch(r.c, r.c.gen, pidfd.Wait(r.adoptedFD))
			}
			continue
		}
		if r.died {
			ended++
			d.event(r.c, events.ActionDie, map[string]string{"exitCode": fmt.Sprint(r.c.st.ExitCode)})
		}
		d.maybeRestart(r.c, true)
	}
	d.log.Info("containers restored", "total", len(d.byID), "adopted", adopted, "ended-while-down", ended)
	if !d.Config().LiveRestore && len(left) > 0 {
		d.log.Info("live-restore is off: stopping the containers a previous daemon left running", "count", len(left))
		var stops sync.WaitGroup
		for _, c := range left {
			stops.Add(1)
			go func() {
				defer stops.Done()
				c.op.Lock()
				defer c.op.Unlock()
				if err := d.stopLocked(context.Background(), c, nil, false); err != nil && !errors.Is(err, ErrNotModified) {
					d.log.Error("stopping a container left running (live-restore is off)", "container", c.spec.ID[:12], "err", err)
				}
			}()
		}
		stops.Wait()
	}
	return nil
}

// restored is what restoreOne found of one container.
type restored struct {
	c         *Container
	adoptedFD int  // pidfd of the adopted shim; -1 when none was adopted
	starting  bool // the adopted shim has not recorded the container's start yet
	died      bool // the container ended while the daemon was down
}

// restoreOne loads one container and decides about its shim.
func (d *Daemon) restoreOne(id string) (restored, error) {
	none := restored{adoptedFD: -1}
	dataDir := filepath.Join(d.containersDir(), id)
	var spec containerSpec
	if err := atomicfile.ReadJSON(filepath.Join(dataDir, "config.json"), &spec); err != nil {
		return none, err
	}
	if spec.ID != id || spec.Config == nil || spec.HostConfig == nil {
		return none, fmt.Errorf("%s/config.json: incomplete container config", dataDir)
	}
	var st containerState
	if err := atomicfile.ReadJSON(filepath.Join(dataDir, "state.json"), &st); err != nil {
		st = containerState{Status: StatusCreated}
	}
	c := newContainer(spec, st, dataDir, filepath.Join(d.runsDir(), id))
	none.c = c
	obs := observeShim(c.runDir)
	verdict := shim.Decide(obs)
	wasRunning := st.Status == StatusRunning || st.Status == StatusRestarting
	if verdict == shim.Alive || verdict == shim.Starting {
		shimPid, shimStart, _ := obs.Shim()
		fd, err := openGuarded(shimPid, shimStart)
		if err == nil {
			// Adopt: the run folder is the truth (the daemon may have
			// died between starting the shim and saving state.json). A
			// starting shim is adopted too, its process pid still
			// unknown: starting another would run the container twice.
			changed := st.Status != StatusRunning || st.ShimPid != shimPid
			c.st.Status = StatusRunning
			c.st.ShimPid, c.st.ShimStart = shimPid, shimStart
			c.st.Pid, c.st.PidStart = 0, 0
			if r := obs.Record; r != nil {
				changed = changed || st.Pid != r.Pid || !st.StartedAt.Equal(r.StartedAt)
				c.st.Pid, c.st.PidStart = r.Pid, r.PidStart
				c.st.StartedAt = r.StartedAt
			}
			c.exited = make(chan struct{})
			c.gen = 1
			if changed {
				c.saveLocked()
			}
			return restored{c: c, adoptedFD: fd, starting: obs.Record == nil}, nil
		}
		// It died between the two looks: fall through to re-observe.
		obs = observeShim(c.runDir)
		if shim.Decide(obs) == shim.Exited {
			verdict = shim.Exited
		} else {
			verdict = shim.Lost
		}
	}
	switch verdict {
	case shim.Exited:
		// Record the exit unless it is an old run already recorded.
		if wasRunning || obs.Exit.FinishedAt.After(st.FinishedAt) {
			c.recordRestoredExit(*obs.Exit)
			none.died = true
		}
	case shim.Lost, shim.None:
		if wasRunning {
			c.recordRestoredExit(shim.Exit{ExitCode: 255, Error: "the shim is gone without recording the container's exit status", FinishedAt: time.Now().UTC()})
			none.died = true
		}
	}
	return none, nil
}

// awaitStart follows a shim adopted while starting: once it records the
// container's process, the run is complete and watched as any other; if
// it exits first, its exit is recorded.
func (d *Daemon) awaitStart(c *Container, gen int, shimExited <-chan struct{}) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var rec shim.Record
		if atomicfile.ReadJSON(filepath.Join(c.runDir, shim.RecordFile), &rec) == nil {
			c.mu.Lock()
			current := gen == c.gen && c.st.Status == StatusRunning
			if current {
				c.st.Pid, c.st.PidStart, c.st.StartedAt = rec.Pid, rec.PidStart, rec.StartedAt
				c.saveLocked()
				c.notifyLocked()
			}
			c.mu.Unlock()
			if current {
				d.event(c, events.ActionStart, nil)
			}
			d.watch(c, gen, shimExited)
			return
		}
		select {
		case <-shimExited:
			// shim.json may have been written just before the exit.
			if fileExists(filepath.Join(c.runDir, shim.RecordFile)) {
				continue
			}
			d.handleExit(c, gen)
			return
		case <-tick.C:
		}
	}
}

func (c *Container) recordRestoredExit(ex shim.Exit) {
	c.st.Status = StatusExited
	c.st.ExitCode = ex.ExitCode
	c.st.Error = ex.Error
	c.st.OOMKilled = ex.OOMKilled
	c.st.FinishedAt = ex.FinishedAt
	c.st.Pid, c.st.PidStart, c.st.ShimPid, c.st.ShimStart = 0, 0, 0, 0
	c.saveLocked()
}

// observeShim reads a run folder and the process at the recorded shim pid.
func observeShim(runDir string) shim.Observation {
	var o shim.Observation
	var sp shim.Spawn
	if err := atomicfile.ReadJSON(filepath.Join(runDir, shim.SpawnFile), &sp); err == nil {
		o.Spawn = &sp
	}
	var rec shim.Record
	if err := atomicfile.ReadJSON(filepath.Join(runDir, shim.RecordFile), &rec); err == nil {
		o.Record = &rec
	}
	if pid, _, ok := o.Shim(); ok {
		o.Proc, _ = procfs.Stat(pid)
	}
	var ex shim.Exit
	if err := atomicfile.ReadJSON(filepath.Join(runDir, shim.ExitFile), &ex); err == nil {
		o.Exit = &ex
	}
	return o
}

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
		_, st := c.snapshot()
		total++
		if st.Status == StatusRunning || st.Status == StatusRestarting {
			running++
		} else {
			stopped++
		}
	}
	return
}

// imageEvent publishes an image event (load, import, tag, delete).
func (d *Daemon) imageEvent(id string, action events.Action) {
	d.events.publish(events.Message{
		Status: string(action), ID: id, Type: events.ImageEventType, Action: action,
		Actor: events.Actor{ID: id, Attributes: map[string]string{"name": id}},
	})
}

func (d *Daemon) event(c *Container, action events.Action, extra map[string]string) {
	spec, _ := c.snapshot()
	attrs := map[string]string{"name": spec.Name, "image": spec.Image}
	for k, v := range spec.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	d.events.publish(events.Message{
		Status: string(action), ID: spec.ID, From: spec.Image,
		Type: events.ContainerEventType, Action: action,
		Actor: events.Actor{ID: spec.ID, Attributes: attrs},
	})
}
