package testbed

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// LiveswapdOptions choose the daemon.json and unit settings of a test
// liveswapd.
type LiveswapdOptions struct {
	LiveRestore bool
	KillMode    string // default "process"
	Binary      string // default: a fresh build reporting LiveswapdVersion
	Dir         string // default: a new short folder
}

// LiveswapdVersion is the version of the liveswapd StartLiveswapd builds.
const LiveswapdVersion = "1.0.0-e2e"

// Liveswapd is a liveswapd run as a unit of a test's systemd manager with
// its own data-root, exec-root, pidfile and socket.
type Liveswapd struct {
	Dir, ConfigPath, Socket, Host, Unit, Bin, LogPath string
}

// StartLiveswapd writes the config and unit and starts it (Type=notify: the
// job ends when the daemon is ready); every container is removed before the
// unit stops.
func StartLiveswapd(t T, sd *Systemd, o LiveswapdOptions) *Liveswapd {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		dir = shortDir(t, "lsl-")
	}
	l := &Liveswapd{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "daemon.json"),
		Socket:     filepath.Join(dir, "lsd.sock"),
		LogPath:    filepath.Join(dir, "liveswapd.log"),
		Unit:       fmt.Sprintf("lsliveswapd-%06d.service", rand.IntN(1e6)),
		Bin:        o.Binary,
	}
	if l.Bin == "" {
		l.Bin = Build(t, "liveswapd", LiveswapdVersion)
	}
	l.Host = "unix://" + l.Socket
	l.WriteConfig(t, o.LiveRestore)
	kill := o.KillMode
	if kill == "" {
		kill = "process"
	}
	// The settings of runtime/liveswapd.service that matter, with KillMode
	// chosen by the test and no Restart= (tests restart it themselves).
	sd.InstallUnit(t, l.Unit, fmt.Sprintf(`[Unit]
Description=liveswapd for a liveswap test

[Service]
Type=notify
ExecStart=%s --config-file %s
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=%s
TimeoutStartSec=90
TimeoutStopSec=30
StandardOutput=append:%s
StandardError=append:%s
`, l.Bin, l.ConfigPath, kill, l.LogPath, l.LogPath))
	t.Cleanup(func() {
		if out, err := Docker(l.Host, "ps", "-aq"); err == nil {
			if ids := strings.Fields(out); len(ids) > 0 {
				Docker(l.Host, append([]string{"rm", "-f"}, ids...)...)
			}
		}
	})
	sd.StartUnit(t, l.Unit)
	return l
}

// WriteConfig writes daemon.json (a reload or restart applies it).
func (l *Liveswapd) WriteConfig(t T, liveRestore bool) {
	t.Helper()
	cfg := map[string]any{
		"live-restore":     liveRestore,
		"hosts":            []string{l.Host},
		"data-root":        filepath.Join(l.Dir, "data"),
		"exec-root":        filepath.Join(l.Dir, "exec"),
		"pidfile":          filepath.Join(l.Dir, "liveswapd.pid"),
		"shutdown-timeout": 5,
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(l.ConfigPath, b, 0o644); err != nil {
		t.Fatalf("%v", err)
	}
}

// Log returns the tail of the daemon's output.
func (l *Liveswapd) Log() string {
	b, _ := os.ReadFile(l.LogPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
