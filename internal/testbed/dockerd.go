package testbed

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// DockerdOptions choose the daemon.json and unit settings of a test dockerd.
type DockerdOptions struct {
	LiveRestore bool           // "live-restore" in daemon.json
	KillMode    string         // unit KillMode; default "process"
	Extra       map[string]any // more daemon.json keys
	Binary      string         // default /usr/sbin/dockerd
	ExtraFlags  []string       // more ExecStart flags
	UnitExtra   string         // more [Service] lines
}

// Dockerd is an isolated dockerd run as a unit of a test's systemd manager:
// its own data-root, exec-root, pidfile and socket, vfs storage, no bridge
// and no iptables, so it touches nothing global.
type Dockerd struct {
	Dir        string
	ConfigPath string
	UnitPath   string
	Socket     string
	Host       string // unix://Socket, for -H and the SDK
	Unit       string
	sd         *Systemd
}

// DaemonJSON returns the isolated base configuration for dir (as FACTS.md
// measured it), with live restore as asked.
func DaemonJSON(dir string, liveRestore bool) map[string]any {
	return map[string]any{
		"live-restore":   liveRestore,
		"data-root":      filepath.Join(dir, "root"),
		"exec-root":      filepath.Join(dir, "exec"),
		"pidfile":        filepath.Join(dir, "docker.pid"),
		"hosts":          []string{"unix://" + filepath.Join(dir, "docker.sock")},
		"bridge":         "none",
		"iptables":       false,
		"ip6tables":      false,
		"storage-driver": "vfs",
	}
}

// StartDockerd writes the config and unit, starts it (Type=notify: the start
// job ends when dockerd is ready) and registers cleanup: every container is
// removed before the unit stops, so nothing outlives the test.
func StartDockerd(t T, sd *Systemd, o DockerdOptions) *Dockerd {
	t.Helper()
	dir := shortDir(t, "lsd-")
	d := &Dockerd{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "daemon.json"),
		Socket:     filepath.Join(dir, "docker.sock"),
		Unit:       fmt.Sprintf("lsdocker-%06d.service", rand.IntN(1e6)),
		sd:         sd,
	}
	d.Host = "unix://" + d.Socket
	cfg := DaemonJSON(dir, o.LiveRestore)
	for k, v := range o.Extra {
		cfg[k] = v
	}
	if err := writeJSON(d.ConfigPath, cfg); err != nil {
		t.Fatalf("%v", err)
	}
	bin := o.Binary
	if bin == "" {
		bin = DockerdBin
	}
	d.UnitPath = filepath.Join(sd.UnitDir, d.Unit)
	sd.InstallUnit(t, d.Unit, DockerdUnit(bin, d.ConfigPath, filepath.Join(dir, "dockerd.log"), o))
	t.Cleanup(func() { d.removeAll(t) })
	sd.StartUnit(t, d.Unit)
	return d
}

// DockerdUnit renders the unit file: the settings of Debian's docker.service
// that matter here, with KillMode chosen by the test.
func DockerdUnit(bin, config, log string, o DockerdOptions) string {
	kill := o.KillMode
	if kill == "" {
		kill = "process"
	}
	exec := strings.Join(append([]string{bin, "--config-file", config}, o.ExtraFlags...), " ")
	return fmt.Sprintf(`[Unit]
Description=isolated dockerd for a liveswap test

[Service]
Type=notify
ExecStart=%s
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=%s
Delegate=yes
TimeoutStartSec=90
TimeoutStopSec=30
LimitNOFILE=1048576
StandardOutput=append:%s
StandardError=append:%s
%s
`, exec, kill, log, log, o.UnitExtra)
}

// removeAll force-removes every container while the daemon still runs.
func (d *Dockerd) removeAll(t T) {
	out, err := Docker(d.Host, "ps", "-aq")
	if err != nil {
		return // daemon already gone; the sweep catches what is left
	}
	if ids := strings.Fields(out); len(ids) > 0 {
		if out, err := Docker(d.Host, append([]string{"rm", "-f"}, ids...)...); err != nil {
			t.Fatalf("testbed: removing containers: %v\n%s", err, out)
		}
	}
}

// Log returns the tail of dockerd's output.
func (d *Dockerd) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dockerd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
