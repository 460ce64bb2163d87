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
	// Socket: the API socket is a socket unit's (-H fd://), as
	// runtime/liveswapd.socket ships it.
	Socket bool
	// Extra daemon.json keys (e.g. "runc-binary").
	Extra map[string]any
}

// LiveswapdVersion is the version of the liveswapd StartLiveswapd builds.
const LiveswapdVersion = "1.0.0-e2e"

// Liveswapd is a liveswapd run as a unit of a test's systemd manager with
// its own data-root, exec-root, pidfile and socket.
type Liveswapd struct {
	Dir, ConfigPath, Socket, Host, Unit, Bin, LogPath string
	SocketUnit                                        string // "" unless socket-activated
	extra                                             map[string]any
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
	unitExtra := ""
	if o.Socket {
		l.SocketUnit = strings.TrimSuffix(l.Unit, ".service") + ".socket"
		sd.InstallUnit(t, l.SocketUnit, fmt.Sprintf("[Socket]\nListenStream=%s\nSocketMode=0660\n", l.Socket))
		unitExtra = fmt.Sprintf("Requires=%s\nAfter=%s\n", l.SocketUnit, l.SocketUnit)
	}
	l.extra = o.Extra
	l.WriteConfig(t, o.LiveRestore)
	kill := o.KillMode
	if kill == "" {
		kill = "process"
	}
	// No Restart=: tests restart it themselves.
	sd.InstallUnit(t, l.Unit, liveswapdUnit("a liveswap test", unitExtra, l.Bin, l.ConfigPath, kill,
		fmt.Sprintf("StandardOutput=append:%s\nStandardError=append:%s\n", l.LogPath, l.LogPath)))
	t.Cleanup(func() {
		// A failed test shows how the daemon ended: a test that lost it
		// otherwise says only "Cannot connect".
		if f, ok := t.(interface{ Failed() bool }); ok && f.Failed() {
			if b, err := os.ReadFile(l.LogPath); err == nil {
				t.Logf("testbed: the end of %s:\n%s", l.LogPath, lastLines(string(b), 30))
			}
		}
		if out, err := Docker(l.Host, "ps", "-aq"); err == nil {
			if ids := strings.Fields(out); len(ids) > 0 {
				Docker(l.Host, append([]string{"rm", "-f"}, ids...)...)
			}
		}
	})
	sd.StartUnit(t, l.Unit)
	return l
}

// liveswapdUnit renders the settings of runtime/liveswapd.service that
// matter here, with KillMode chosen by the caller; extra holds more
// [Service] lines.
func liveswapdUnit(purpose, unitExtra, bin, config, killMode, extra string) string {
	return fmt.Sprintf(`[Unit]
Description=liveswapd for %s
%s
[Service]
Type=notify
ExecStart=%s --config-file %s
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=%s
TimeoutStartSec=90
TimeoutStopSec=30
%s`, purpose, unitExtra, bin, config, killMode, extra)
}

// WriteConfig writes daemon.json (a reload or restart applies it).
func (l *Liveswapd) WriteConfig(t T, liveRestore bool) {
	t.Helper()
	host := l.Host
	if l.SocketUnit != "" {
		host = "fd://"
	}
	cfg := liveswapdConfig(l.Dir, host, liveRestore)
	cfg["shutdown-timeout"] = 5 // tests stop daemons often
	for k, v := range l.extra {
		cfg[k] = v
	}
	if err := writeJSON(l.ConfigPath, cfg); err != nil {
		t.Fatalf("%v", err)
	}
}

// liveswapdConfig is the daemon.json of a liveswapd serving host with its
// state, runtime files and pidfile inside dir.
func liveswapdConfig(dir, host string, liveRestore bool) map[string]any {
	return map[string]any{
		"live-restore": liveRestore,
		"hosts":        []string{host},
		"data-root":    filepath.Join(dir, "data"),
		"exec-root":    filepath.Join(dir, "exec"),
		"pidfile":      filepath.Join(dir, "liveswapd.pid"),
		// The tests and the demo run nginx and redis from the host's
		// binaries (image host), which liveswapd runs only with this opt-in.
		"allow-host-image": true,
	}
}

// writeJSON writes v indented, as an operator's daemon.json would be.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Log returns the tail of the daemon's output.
func (l *Liveswapd) Log() string {
	b, _ := os.ReadFile(l.LogPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
