// Package config is liveswapd's configuration: daemon.json (dockerd's keys
// liveswapd implements, refused with file, line and key otherwise), the
// flags that override it (Flags, Load), the log driver rules shared with
// container create (ParseLogConfig) and `liveswapd --validate` (Validate).
// It reads files only; the daemon applies what it returns.
package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultConfigFile is where liveswapd looks for its daemon.json.
const DefaultConfigFile = "/etc/liveswap/daemon.json"

// Config is the daemon's configuration: the subset of dockerd's daemon.json
// keys liveswapd supports, with the same names and meanings.
type Config struct {
	LiveRestore     bool
	Hosts           []string // unix:///path only
	DataRoot        string
	ExecRoot        string
	Pidfile         string
	LogLevel        string // debug, info, warn, error, fatal
	Debug           bool
	ShutdownTimeout int // seconds
	// APIReadTimeout bounds, in seconds, reading a request's headers and
	// reading its body (408 past it); streams answered afterwards (logs
	// -f, events, wait) are not bounded. liveswapd's own key.
	APIReadTimeout int
	// APIIdleTimeout bounds, in seconds, how long a kept-alive connection
	// may wait for its next request. liveswapd's own key.
	APIIdleTimeout int
	// LogDriver and LogOpts are the defaults of containers that name no
	// log driver: json-file (max-size, max-file) or none.
	LogDriver string
	LogOpts   map[string]string
	// AllowHostImage lets containers of image "host" run: on the host's
	// filesystem and namespaces with every capability and no cgroup
	// limits, as --privileged would. Off by default; liveswapd's own key,
	// shown in docker info and, per container, as HostConfig.Privileged.
	AllowHostImage bool
	// RuncBinary is the OCI runtime that isolates containers of root
	// folder images; "" looks "runc" up in PATH when a container starts.
	// runc runs only while a container is created, signalled or deleted,
	// so replacing it never touches a running container. liveswapd's own key.
	RuncBinary string

	// ConfigFile is the file the configuration was read from ("" for none).
	ConfigFile string
}

// DefaultConfig returns the values used for keys set neither by a flag nor
// in the file.
func DefaultConfig() Config {
	return Config{
		Hosts:           []string{"unix:///run/liveswapd.sock"},
		DataRoot:        "/var/lib/liveswapd",
		ExecRoot:        "/run/liveswapd",
		Pidfile:         "/run/liveswapd.pid",
		LogLevel:        "info",
		ShutdownTimeout: 15,
		APIReadTimeout:  30,
		APIIdleTimeout:  120,
		LogDriver:       "json-file",
	}
}

// ConfigError is a configuration problem: the file, the key and the line
// where it is, so the message names what to fix.
type ConfigError struct {
	File string
	Line int    // 0 when unknown
	Col  int    // 0 when unknown
	Key  string // "" for syntax errors
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("unable to configure liveswapd with file ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, " column %d", e.Col)
		}
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// unixPath checks a host address: only unix sockets are supported, as
// liveswapd serves no TCP (no TLS to get wrong).
func unixPath(h string) (string, error) {
	if h == "fd://" {
		return "", nil // systemd's sockets: see SocketActivated
	}
	p, ok := strings.CutPrefix(h, "unix://")
	if !ok {
		if i := strings.Index(h, "://"); i > 0 {
			return "", fmt.Errorf("%s hosts are not supported: liveswapd listens on unix sockets only (use unix:///path/to.sock, or fd:// for the sockets of a systemd socket unit)", h[:i])
		}
		return "", fmt.Errorf("not a unix socket address: use unix:///path/to.sock")
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("socket path must be absolute: use unix:///path/to.sock")
	}
	return p, nil
}

// ParseLevel maps dockerd's log-level names to slog levels.
func ParseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "fatal", "panic":
		return slog.LevelError + 4, nil
	}
	return 0, fmt.Errorf("unsupported log level %q: use debug, info, warn, error or fatal", s)
}

// Level is the effective log level (debug: true wins, as in dockerd).
func (c Config) Level() slog.Level {
	if c.Debug {
		return slog.LevelDebug
	}
	l, err := ParseLevel(c.LogLevel)
	if err != nil {
		return slog.LevelInfo
	}
	return l
}

// ShutdownWait is shutdown-timeout as a duration.
func (c Config) ShutdownWait() time.Duration { return time.Duration(c.ShutdownTimeout) * time.Second }

// SocketPaths returns the unix socket paths of Hosts.
func (c Config) SocketPaths() []string {
	var out []string
	for _, h := range c.Hosts {
		if p, err := unixPath(h); err == nil && p != "" {
			out = append(out, p)
		}
	}
	return out
}

// SocketActivated reports whether hosts name fd://: the daemon serves the
// sockets its socket unit holds, so a client that connects while the
// daemon restarts waits for it instead of being refused.
func (c Config) SocketActivated() bool {
	for _, h := range c.Hosts {
		if h == "fd://" {
			return true
		}
	}
	return false
}
