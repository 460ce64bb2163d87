package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/spf13/cobra"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

type demoOptions struct {
	Out, Err io.Writer
	Old, New string
	Keep     bool
}

func newDemoCmd() *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo --old LIVESWAPD --new LIVESWAPD",
		Short: "Upgrade a bundled liveswapd under systemd while nginx and redis serve, then show the negative control",
		Long: `Demo runs the whole story on this machine, touching nothing global:

  1. starts liveswapd (the --old build) as a systemd unit — under the system
     manager when systemd is PID 1, else under a private user manager —
     with live restore on, and runs nginx and redis in it;
  2. upgrades it to the --new build with 'apply', probing both every 20 ms,
     and prints the report (expected: upgraded, 0 failed probes);
  3. turns live restore off by a reload and applies again: preflight refuses;
  4. forces it (--force): the verifier names both containers as interrupted;
  5. removes everything it started.

'make demo' builds two liveswapd versions and runs this.

EXIT STATUS
  0  every step ended as expected
  1  a step did not (the output says which)
  2  usage error`,
		Example: "  liveswap demo --old bin/demo/liveswapd-1.0.0 --new bin/demo/liveswapd-1.0.1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Old == "" || o.New == "" {
				return usageError("demo needs --old and --new liveswapd binaries (make demo builds them)")
			}
			o.Out, o.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return demoRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Old, "old", "", "liveswapd build to start with")
	cmd.Flags().StringVar(&o.New, "new", "", "liveswapd build to upgrade to")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the demo's daemon and containers running")
	return cmd
}

// demo is the state the demo builds and tears down.
type demo struct {
	o      *demoOptions
	dir    string
	pm     *systemd.PrivateManager
	sd     *systemd.Manager
	scope  string
	unit   string
	bin    string
	config string
	sock   string
	eng    *engine.Client
	ids    []string
}

func demoRun(ctx context.Context, o *demoOptions) (err error) {
	d := &demo{o: o, unit: "liveswap-demo.service"}
	defer func() {
		if !o.Keep {
			d.teardown()
		}
	}()
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, "\n==> "+format+"\n", a...) }

	for _, f := range []*string{&o.Old, &o.New} {
		if *f, err = filepath.Abs(*f); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	oldV, err := binaryVersion(o.Old)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	newV, err := binaryVersion(o.New)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	say("starting liveswapd %s under systemd with live restore on", oldV)
	if err := d.start(ctx, oldV); err != nil {
		return &exitError{code: 1, err: err}
	}
	ws, err := d.workloads(ctx)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	for _, w := range ws {
		fmt.Fprintf(o.Out, "    %s serving on %s\n", w.Container, w.Address)
	}

	sha, err := checks.FileSHA256(o.New)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	p := &plan.Plan{
		Target:    plan.Target{Kind: plan.Liveswapd, Unit: d.unit, Systemd: d.scope, Endpoint: "unix://" + d.sock, DaemonConfig: d.config},
		Binaries:  []plan.Binary{{Path: d.bin, NewFile: o.New, SHA256: sha, ExpectedVersion: newV}},
		Workloads: ws,
	}
	p.Default()
	if b, err := p.Marshal(); err == nil {
		say("the plan (liveswap plan would discover the same)")
		o.Out.Write(b)
	}

	var problems []string
	expect := func(step string, rep *upgrade.Report, want upgrade.Result) {
		writeReport(o.Out, "table", rep)
		if rep.Result != want {
			problems = append(problems, fmt.Sprintf("%s ended %s, expected %s", step, rep.Result, want))
		}
	}
	say("upgrading liveswapd %s -> %s with nginx and redis probed every 20 ms", oldV, newV)
	rep, err := upgrade.Apply(ctx, p, upgrade.Options{StateDir: filepath.Join(d.dir, "state"), Preflight: preflightFor(filepath.Join(d.dir, "state"), nil), Log: o.Err})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	expect("the upgrade", rep, upgrade.Upgraded)

	say("negative control: live restore turned off (reload, no restart), %s re-installed", newV)
	if err := d.setLiveRestore(ctx, false); err != nil {
		return &exitError{code: 1, err: err}
	}
	rep, err = upgrade.Apply(ctx, p, upgrade.Options{StateDir: filepath.Join(d.dir, "state"), Preflight: preflightFor(filepath.Join(d.dir, "state"), nil), Log: o.Err})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	expect("the upgrade with live restore off", rep, upgrade.Refused)

	say("negative control, forced: the verifier must catch the interruption")
	rep, err = upgrade.Apply(ctx, p, upgrade.Options{StateDir: filepath.Join(d.dir, "state"), Preflight: preflightFor(filepath.Join(d.dir, "state"), nil), Log: o.Err, Force: true})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	expect("the forced upgrade with live restore off", rep, upgrade.Failed)

	if len(problems) > 0 {
		return &exitError{code: 1, err: errors.New("demo: " + strings.Join(problems, "; "))}
	}
	say("demo finished: upgraded with 0 failed probes; live restore off was refused, and forcing it was caught")
	return nil
}

// binaryVersion runs `liveswapd --version` ("liveswapd version 1.0.1").
func binaryVersion(bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 || f[1] != "version" {
		return "", fmt.Errorf("%s --version printed %q, want \"liveswapd version X\"", bin, strings.TrimSpace(string(out)))
	}
	return f[2], nil
}

func (d *demo) start(ctx context.Context, version string) error {
	var err error
	if d.dir, err = os.MkdirTemp("/tmp", "liveswap-demo-"); err != nil {
		return err
	}
	os.Chmod(d.dir, 0o755)
	d.bin = filepath.Join(d.dir, "bin", "liveswapd")
	d.config = filepath.Join(d.dir, "daemon.json")
	d.sock = filepath.Join(d.dir, "liveswapd.sock")
	if err := os.MkdirAll(filepath.Dir(d.bin), 0o755); err != nil {
		return err
	}
	if err := copyExecutable(d.o.Old, d.bin); err != nil {
		return err
	}
	if err := d.writeConfig(true); err != nil {
		return err
	}
	unitDir := "/run/systemd/system"
	if systemd.SystemdIsPID1() {
		d.scope = "system"
		if d.sd, err = systemd.Connect(ctx, systemd.System); err != nil {
			return err
		}
	} else {
		d.scope = "user"
		if d.pm, err = systemd.StartPrivateManager(filepath.Join(d.dir, "systemd")); err != nil {
			return err
		}
		if d.sd, err = d.pm.Connect(ctx); err != nil {
			return err
		}
		unitDir = d.pm.UnitDir
		// apply reaches the same manager the way `--systemd user` does.
		os.Setenv("XDG_RUNTIME_DIR", d.pm.RuntimeDir)
		os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
		fmt.Fprintf(d.o.Out, "    systemd is not PID 1 here: using a private systemd user manager (%s)\n", d.pm.RuntimeDir)
	}
	unit := fmt.Sprintf(`[Unit]
Description=liveswapd for the liveswap demo

[Service]
Type=notify
ExecStart=%s --config-file %s
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
TimeoutStopSec=30
Restart=on-failure
`, d.bin, d.config)
	if err := os.WriteFile(filepath.Join(unitDir, d.unit), []byte(unit), 0o644); err != nil {
		return err
	}
	if err := d.sd.DaemonReload(ctx); err != nil {
		return err
	}
	if err := d.sd.Start(ctx, d.unit); err != nil {
		return fmt.Errorf("%w\n%s", err, d.log())
	}
	if d.eng, err = engine.New("unix://" + d.sock); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, _, err := d.eng.WaitReady(wctx, 50*time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.o.Out, "    liveswapd %s answers on %s (live restore %v)\n", st.Version, d.sock, st.LiveRestore)
	return nil
}

func (d *demo) log() string {
	if d.pm != nil {
		return d.pm.Log()
	}
	return ""
}

func (d *demo) writeConfig(liveRestore bool) error {
	cfg := map[string]any{
		"live-restore": liveRestore,
		"hosts":        []string{"unix://" + d.sock},
		"data-root":    filepath.Join(d.dir, "data"),
		"exec-root":    filepath.Join(d.dir, "exec"),
		"pidfile":      filepath.Join(d.dir, "liveswapd.pid"),
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return os.WriteFile(d.config, append(b, '\n'), 0o644)
}

func (d *demo) setLiveRestore(ctx context.Context, on bool) error {
	if err := d.writeConfig(on); err != nil {
		return err
	}
	if err := d.sd.Reload(ctx, d.unit); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := d.eng.Status(ctx); err == nil && st.LiveRestore == on {
			fmt.Fprintf(d.o.Out, "    liveswapd reloaded daemon.json: live restore %v\n", on)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("liveswapd did not report live restore %v after the reload", on)
}

// workloads runs nginx and redis from the host's binaries (image "host").
func (d *demo) workloads(ctx context.Context) ([]plan.Workload, error) {
	webPort, kvPort := freePort(), freePort()
	ngx := filepath.Join(d.dir, "nginx")
	if err := os.MkdirAll(ngx, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
user nobody nogroup;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  server { listen 127.0.0.1:%[2]d; location / { return 200 "ok\n"; } }
}
`, ngx, webPort)
	if err := os.WriteFile(filepath.Join(ngx, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	specs := []struct {
		name string
		cmd  []string
		w    plan.Workload
	}{
		{"nginx", []string{"/usr/sbin/nginx", "-p", ngx, "-e", filepath.Join(ngx, "error.log"), "-c", filepath.Join(ngx, "nginx.conf")},
			plan.Workload{Container: "nginx", Probe: probe.HTTP, Address: fmt.Sprintf("http://127.0.0.1:%d/", webPort)}},
		{"redis", []string{"/usr/bin/redis-server", "--port", strconv.Itoa(kvPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp"},
			plan.Workload{Container: "redis", Probe: probe.Redis, Address: fmt.Sprintf("127.0.0.1:%d", kvPort)}},
	}
	var ws []plan.Workload
	api := d.eng.API()
	for _, s := range specs {
		c, err := api.ContainerCreate(ctx, &container.Config{Image: "host", Cmd: s.cmd},
			&container.HostConfig{NetworkMode: "host", RestartPolicy: container.RestartPolicy{Name: "unless-stopped"}}, nil, nil, s.name)
		if err != nil {
			return nil, fmt.Errorf("creating %s: %w", s.name, err)
		}
		d.ids = append(d.ids, c.ID)
		if err := api.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			return nil, fmt.Errorf("starting %s: %w", s.name, err)
		}
		if err := waitServing(ctx, s.w); err != nil {
			return nil, fmt.Errorf("%s never served on %s: %w", s.name, s.w.Address, err)
		}
		ws = append(ws, s.w)
	}
	return ws, nil
}

func waitServing(ctx context.Context, w plan.Workload) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := probe.Check(ctx, w.Spec())
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *demo) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if d.eng != nil {
		for _, id := range d.ids {
			d.eng.API().ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		}
		d.eng.Close()
	}
	if d.sd != nil {
		d.sd.Stop(ctx, d.unit)
		if d.pm == nil {
			os.Remove(filepath.Join("/run/systemd/system", d.unit))
			d.sd.DaemonReload(ctx)
		}
		d.sd.Close()
	}
	if d.pm != nil {
		d.pm.Stop(30 * time.Second)
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func copyExecutable(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}
