package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/pidfd"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/health"
	"github.com/liveswap/liveswap/runtime/shim"
)

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
		return ErrShuttingDown
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
func (d *Daemon) processSpec(c *Container, spec ContainerSpec) (shim.Process, *specs.Spec, error) {
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
		LogPath: c.LogPath(), LogMaxSize: lc.MaxSize, LogMaxFiles: lc.MaxFiles,
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
	runc, err := d.RuncPath()
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
			return shim.Record{}, nil, fmt.Errorf("failed to create task for container: %s: %w", msg, ErrStartFailed)
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

// ErrStartFailed: the container's process could not start (runc's error
// is in the message); the API answers 500, as dockerd does.
var ErrStartFailed = errors.New("start failed")

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
