package testbed

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

// DemoUnit is the unit `liveswap demo` runs liveswapd as.
const DemoUnit = "liveswap-demo.service"

// systemUnitDir is where units for the system manager go for this boot only.
const systemUnitDir = "/run/systemd/system"

// Demo is the scene of `liveswap demo`: liveswapd as a systemd unit — under
// the system manager when systemd is PID 1, else under a private user
// manager — with nginx and redis serving from it, every file in one folder
// under /tmp. It runs in the CLI, not in a test, so it returns errors
// instead of taking a T; Close removes everything it started.
type Demo struct {
	Out    io.Writer // where the scene says what it did; nil: nowhere
	Dir    string
	Scope  string // the manager, as plan.Target.Systemd names it
	Bin    string // the binary the unit runs
	Config string // its daemon.json
	Socket string

	pm  *systemd.PrivateManager
	sd  *systemd.Manager
	eng *engine.Client
	ids []string
}

// Start copies the liveswapd binary old, and the liveswapd-shim beside it,
// into a new folder and starts it as DemoUnit with live restore on; it
// returns once the daemon answers.
func (d *Demo) Start(ctx context.Context, old string) error {
	var err error
	if d.Dir, err = os.MkdirTemp("/tmp", "liveswap-demo-"); err != nil {
		return err
	}
	os.Chmod(d.Dir, 0o755)
	d.Bin = filepath.Join(d.Dir, "bin", "liveswapd")
	d.Config = filepath.Join(d.Dir, "daemon.json")
	d.Socket = filepath.Join(d.Dir, "liveswapd.sock")
	if err := copyFile(old, d.Bin); err != nil {
		return err
	}
	shim := filepath.Join(filepath.Dir(old), "liveswapd-shim")
	if err := copyFile(shim, filepath.Join(d.Dir, "bin", "liveswapd-shim")); err != nil {
		return fmt.Errorf("liveswapd starts containers with the liveswapd-shim beside it: %w (build it: make build, or go build -o %s ./cmd/liveswapd-shim)", err, shim)
	}
	if err := d.writeConfig(true); err != nil {
		return err
	}
	unitDir := systemUnitDir
	if systemd.SystemdIsPID1() {
		d.Scope = "system"
		if d.sd, err = systemd.Connect(ctx, systemd.System); err != nil {
			return err
		}
	} else {
		d.Scope = "user"
		if d.pm, err = systemd.StartPrivateManager(filepath.Join(d.Dir, "systemd")); err != nil {
			return err
		}
		if d.sd, err = d.pm.Connect(ctx); err != nil {
			return err
		}
		unitDir = d.pm.UnitDir
		// apply reaches the same manager the way `--systemd user` does.
		os.Setenv("XDG_RUNTIME_DIR", d.pm.RuntimeDir)
		os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
		d.say("systemd is not PID 1 here: using a private systemd user manager (%s)", d.pm.RuntimeDir)
	}
	unit := liveswapdUnit("the liveswap demo", "", d.Bin, d.Config, "process", "Restart=on-failure\n")
	if err := os.WriteFile(filepath.Join(unitDir, DemoUnit), []byte(unit), 0o644); err != nil {
		return err
	}
	if err := d.sd.DaemonReload(ctx); err != nil {
		return err
	}
	if err := d.sd.Start(ctx, DemoUnit); err != nil {
		return fmt.Errorf("%w\n%s", err, d.log())
	}
	if d.eng, err = engine.New("unix://" + d.Socket); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, _, err := d.eng.WaitReady(wctx, 50*time.Millisecond)
	if err != nil {
		return err
	}
	d.say("liveswapd %s answers on %s (live restore %v)", st.Version, d.Socket, st.LiveRestore)
	return nil
}

// Target is the plan's target: the demo's unit, manager, socket and config.
func (d *Demo) Target() plan.Target {
	return plan.Target{Kind: plan.Liveswapd, Unit: DemoUnit, Systemd: d.Scope, Endpoint: "unix://" + d.Socket, DaemonConfig: d.Config}
}

func (d *Demo) say(format string, a ...any) {
	if d.Out != nil {
		fmt.Fprintf(d.Out, "    "+format+"\n", a...)
	}
}

func (d *Demo) log() string {
	if d.pm != nil {
		return d.pm.Log()
	}
	return ""
}

func (d *Demo) writeConfig(liveRestore bool) error {
	return writeJSON(d.Config, liveswapdConfig(d.Dir, "unix://"+d.Socket, liveRestore))
}

// SetLiveRestore rewrites daemon.json and reloads the unit (no restart),
// then waits until the daemon reports the new setting.
func (d *Demo) SetLiveRestore(ctx context.Context, on bool) error {
	if err := d.writeConfig(on); err != nil {
		return err
	}
	if err := d.sd.Reload(ctx, DemoUnit); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := d.eng.Status(ctx); err == nil && st.LiveRestore == on {
			d.say("liveswapd reloaded daemon.json: live restore %v", on)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("liveswapd did not report live restore %v after the reload", on)
}

// Workloads runs nginx and redis from the host's binaries (image "host"),
// restarted unless stopped, and returns them once both serve.
func (d *Demo) Workloads(ctx context.Context) ([]plan.Workload, error) {
	webPort, err := freePort()
	if err != nil {
		return nil, err
	}
	kvPort, err := freePort()
	if err != nil {
		return nil, err
	}
	ngx := filepath.Join(d.Dir, "nginx")
	if err := os.MkdirAll(ngx, 0o755); err != nil {
		return nil, err
	}
	web, err := nginxCommand(ngx, webPort)
	if err != nil {
		return nil, err
	}
	specs := []struct {
		cmd []string
		w   plan.Workload
	}{
		{web, plan.Workload{Container: "nginx", Probe: probe.HTTP, Address: fmt.Sprintf("http://127.0.0.1:%d/", webPort)}},
		{redisCommand(kvPort), plan.Workload{Container: "redis", Probe: probe.Redis, Address: fmt.Sprintf("127.0.0.1:%d", kvPort)}},
	}
	var ws []plan.Workload
	api := d.eng.API()
	for _, s := range specs {
		name := s.w.Container
		c, err := api.ContainerCreate(ctx, &container.Config{Image: "host", Cmd: s.cmd},
			&container.HostConfig{NetworkMode: "host", RestartPolicy: container.RestartPolicy{Name: "unless-stopped"}}, nil, nil, name)
		if err != nil {
			return nil, fmt.Errorf("creating %s: %w", name, err)
		}
		d.ids = append(d.ids, c.ID)
		if err := api.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			return nil, fmt.Errorf("starting %s: %w", name, err)
		}
		if err := waitServing(ctx, s.w.Spec(), 20*time.Second); err != nil {
			return nil, fmt.Errorf("%s never served on %s: %w", name, s.w.Address, err)
		}
		ws = append(ws, s.w)
	}
	return ws, nil
}

// Close removes the containers, stops and removes the unit, stops a
// private manager and removes the folder; it goes on past errors.
func (d *Demo) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if d.eng != nil {
		for _, id := range d.ids {
			d.eng.API().ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		}
		d.eng.Close()
	}
	if d.sd != nil {
		d.sd.Stop(ctx, DemoUnit)
		if d.pm == nil {
			os.Remove(filepath.Join(systemUnitDir, DemoUnit))
			d.sd.DaemonReload(ctx)
		}
		d.sd.Close()
	}
	if d.pm != nil {
		d.pm.Stop(30 * time.Second)
	}
	if d.Dir != "" {
		os.RemoveAll(d.Dir)
	}
}
