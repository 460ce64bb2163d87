// Package config is liveswapd's configuration: daemon.json (dockerd's keys
// liveswapd implements, refused with file, line and key otherwise), the
// flags that override it (Flags, Load), the log driver rules shared with
// container create (ParseLogConfig) and `liveswapd --validate` (Validate).
// It reads files only; the daemon applies what it returns.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
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

// fileKey is one top-level key found in daemon.json.
type fileKey struct {
	raw  json.RawMessage
	line int
}

// keyKinds maps every supported key to the JSON type it takes.
var keyKinds = map[string]string{
	"live-restore":     "boolean",
	"hosts":            "array of strings",
	"data-root":        "string",
	"exec-root":        "string",
	"pidfile":          "string",
	"log-level":        "string",
	"debug":            "boolean",
	"shutdown-timeout": "integer",
	"api-read-timeout": "integer",
	"api-idle-timeout": "integer",
	"log-driver":       "string",
	"log-opts":         "object of strings",
	"allow-host-image": "boolean",
	"runc-binary":      "string",
}

// Flags holds the command-line flags that mirror daemon.json keys, so a
// directive given both ways can be refused as dockerd does.
type Flags struct {
	fs         *flag.FlagSet
	ConfigFile string
	values     Config
	hosts      hostList
}

type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

// NewFlags registers the daemon flags on fs (dockerd's names and shorthands).
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	d := DefaultConfig()
	fs.StringVar(&f.ConfigFile, "config-file", DefaultConfigFile, "daemon configuration file (daemon.json)")
	fs.BoolVar(&f.values.LiveRestore, "live-restore", false, "keep containers running while the daemon is down")
	fs.Var(&f.hosts, "host", "unix socket to listen on, unix:///path (repeatable)")
	fs.Var(&f.hosts, "H", "shorthand for --host")
	fs.StringVar(&f.values.DataRoot, "data-root", d.DataRoot, "root of persistent state")
	fs.StringVar(&f.values.ExecRoot, "exec-root", d.ExecRoot, "root of run-time state (shims, sockets)")
	fs.StringVar(&f.values.Pidfile, "pidfile", d.Pidfile, "daemon PID file")
	fs.StringVar(&f.values.Pidfile, "p", d.Pidfile, "shorthand for --pidfile")
	fs.StringVar(&f.values.LogLevel, "log-level", d.LogLevel, "log level: debug, info, warn, error, fatal")
	fs.StringVar(&f.values.LogLevel, "l", d.LogLevel, "shorthand for --log-level")
	fs.BoolVar(&f.values.Debug, "debug", false, "debug logging")
	fs.BoolVar(&f.values.Debug, "D", false, "shorthand for --debug")
	fs.IntVar(&f.values.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "seconds to wait for containers to stop on shutdown (live-restore off)")
	return f
}

// flagKeys maps flag names to the daemon.json key they mirror.
var flagKeys = map[string]string{
	"live-restore": "live-restore", "host": "hosts", "H": "hosts",
	"data-root": "data-root", "exec-root": "exec-root",
	"pidfile": "pidfile", "p": "pidfile",
	"log-level": "log-level", "l": "log-level",
	"debug": "debug", "D": "debug",
	"shutdown-timeout": "shutdown-timeout",
}

// setKeys returns the daemon.json keys set on the command line.
func (f *Flags) setKeys() map[string]bool {
	out := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) {
		if k, ok := flagKeys[fl.Name]; ok {
			out[k] = true
		}
	})
	return out
}

// Load builds the configuration from the defaults, the file (if it exists,
// or if it was named explicitly) and the flags.
func (f *Flags) Load() (Config, error) {
	explicit := false
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "config-file" {
			explicit = true
		}
	})
	data, err := os.ReadFile(f.ConfigFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			data = nil
		} else {
			return Config{}, fmt.Errorf("reading config file %s: %w", f.ConfigFile, err)
		}
	}
	return f.merge(data)
}

func (f *Flags) merge(data []byte) (Config, error) {
	cfg := DefaultConfig()
	cfg.ConfigFile = f.ConfigFile
	keys, err := parseFile(f.ConfigFile, data)
	if err != nil {
		return Config{}, err
	}
	set := f.setKeys()
	// Conflicts first, in file order, as dockerd refuses them before anything.
	var conflicts []string
	for _, k := range sortedKeys(keys) {
		if set[k] {
			conflicts = append(conflicts, k)
		}
	}
	if len(conflicts) > 0 {
		k := conflicts[0]
		return Config{}, &ConfigError{File: f.ConfigFile, Line: keys[k].line, Key: k,
			Msg: fmt.Sprintf("the following directives are specified both as a flag and in the configuration file: %s; remove one of them", strings.Join(conflicts, ", "))}
	}
	if err := applyFile(f.ConfigFile, keys, &cfg); err != nil {
		return Config{}, err
	}
	// The options are judged with the driver they go with, wherever each
	// of the two keys is in the file.
	if _, err := ParseLogConfig(cfg.LogDriver, cfg.LogOpts); err != nil {
		k := "log-opts"
		if _, ok := keys[k]; !ok {
			k = "log-driver"
		}
		return Config{}, &ConfigError{File: f.ConfigFile, Line: keys[k].line, Key: k, Msg: errMessage(err)}
	}
	for k := range set {
		switch k {
		case "live-restore":
			cfg.LiveRestore = f.values.LiveRestore
		case "hosts":
			cfg.Hosts = append([]string(nil), f.hosts...)
		case "data-root":
			cfg.DataRoot = f.values.DataRoot
		case "exec-root":
			cfg.ExecRoot = f.values.ExecRoot
		case "pidfile":
			cfg.Pidfile = f.values.Pidfile
		case "log-level":
			cfg.LogLevel = f.values.LogLevel
		case "debug":
			cfg.Debug = f.values.Debug
		case "shutdown-timeout":
			cfg.ShutdownTimeout = f.values.ShutdownTimeout
		}
	}
	if set["hosts"] {
		for _, h := range cfg.Hosts {
			if _, err := unixPath(h); err != nil {
				return Config{}, fmt.Errorf("flag --host %q: %w", h, err)
			}
		}
	}
	if set["log-level"] {
		if _, err := ParseLevel(cfg.LogLevel); err != nil {
			return Config{}, fmt.Errorf("flag --log-level: %w", err)
		}
	}
	return cfg, nil
}

func sortedKeys(keys map[string]fileKey) []string {
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		return keys[out[i]].line < keys[out[j]].line || (keys[out[i]].line == keys[out[j]].line && out[i] < out[j])
	})
	return out
}

// parseFile reads the top-level object of daemon.json, keeping each key's
// line; unknown and duplicate keys are errors.
func parseFile(file string, data []byte) (map[string]fileKey, error) {
	keys := map[string]fileKey{}
	if len(bytes.TrimSpace(data)) == 0 {
		return keys, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		line, col := lineCol(data, off)
		msg := err.Error()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of JSON input"
		}
		return &ConfigError{File: file, Line: line, Col: col, Msg: "invalid JSON: " + msg}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		line, col := lineCol(data, 0)
		return nil, &ConfigError{File: file, Line: line, Col: col, Msg: "invalid JSON: the file must hold one JSON object"}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		key, _ := tok.(string)
		line, _ := lineCol(data, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntax(err)
		}
		if _, ok := keyKinds[key]; !ok {
			msg := "unknown key: it matches no configuration option liveswapd supports"
			if s := suggest(key); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, &ConfigError{File: file, Line: line, Key: key, Msg: msg}
		}
		if prev, dup := keys[key]; dup {
			return nil, &ConfigError{File: file, Line: line, Key: key, Msg: fmt.Sprintf("set twice (first at line %d)", prev.line)}
		}
		keys[key] = fileKey{raw: raw, line: line}
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, dec.InputOffset())
		return nil, &ConfigError{File: file, Line: line, Col: col, Msg: "invalid JSON: extra data after the top-level object"}
	}
	return keys, nil
}

// applyFile decodes each key with its type and validates its value.
func applyFile(file string, keys map[string]fileKey, cfg *Config) error {
	for _, k := range sortedKeys(keys) {
		fk := keys[k]
		bad := func(msg string) error { return &ConfigError{File: file, Line: fk.line, Key: k, Msg: msg} }
		wrongType := func() error {
			return bad(fmt.Sprintf("expected %s, got %s", keyKinds[k], jsonKind(fk.raw)))
		}
		var err error
		switch k {
		case "live-restore":
			err = strictBool(fk.raw, &cfg.LiveRestore)
		case "debug":
			err = strictBool(fk.raw, &cfg.Debug)
		case "hosts":
			var hs []string
			if err = strictDecode(fk.raw, &hs, '['); err == nil {
				for _, h := range hs {
					if _, herr := unixPath(h); herr != nil {
						return bad(fmt.Sprintf("host %q: %v", h, herr))
					}
				}
				if len(hs) > 0 {
					cfg.Hosts = hs
				}
			}
		case "allow-host-image":
			err = strictBool(fk.raw, &cfg.AllowHostImage)
		case "data-root", "exec-root", "pidfile", "runc-binary":
			var s string
			if err = strictDecode(fk.raw, &s, '"'); err == nil {
				if !strings.HasPrefix(s, "/") {
					return bad(fmt.Sprintf("%q must be an absolute path", s))
				}
				switch k {
				case "data-root":
					cfg.DataRoot = s
				case "exec-root":
					cfg.ExecRoot = s
				case "pidfile":
					cfg.Pidfile = s
				case "runc-binary":
					cfg.RuncBinary = s
				}
			}
		case "log-level":
			var s string
			if err = strictDecode(fk.raw, &s, '"'); err == nil {
				if _, lerr := ParseLevel(s); lerr != nil {
					return bad(lerr.Error())
				}
				cfg.LogLevel = s
			}
		case "shutdown-timeout":
			var n int
			if err = strictDecode(fk.raw, &n, 0); err == nil {
				if n < 0 {
					return bad(fmt.Sprintf("%d is negative; give a number of seconds >= 0", n))
				}
				cfg.ShutdownTimeout = n
			}
		case "api-read-timeout", "api-idle-timeout":
			var n int
			if err = strictDecode(fk.raw, &n, 0); err == nil {
				if n < 1 {
					return bad(fmt.Sprintf("%d: give a number of seconds >= 1", n))
				}
				if k == "api-read-timeout" {
					cfg.APIReadTimeout = n
				} else {
					cfg.APIIdleTimeout = n
				}
			}
		case "log-driver":
			if err = strictDecode(fk.raw, &cfg.LogDriver, '"'); err == nil {
				if _, lerr := ParseLogConfig(cfg.LogDriver, nil); lerr != nil {
					return bad(errMessage(lerr))
				}
			}
		case "log-opts":
			var opts map[string]string
			if err = strictDecode(fk.raw, &opts, '{'); err == nil {
				cfg.LogOpts = opts
			}
		}
		if err != nil {
			return wrongType()
		}
	}
	return nil
}

func strictBool(raw json.RawMessage, out *bool) error {
	return strictDecode(raw, out, 0)
}

// strictDecode refuses null (which encoding/json silently accepts) and,
// when first is not 0, any value not starting with that byte.
func strictDecode(raw json.RawMessage, out any, first byte) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" || (first != 0 && t[0] != first) {
		return errors.New("wrong type")
	}
	return json.Unmarshal(t, out)
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "string " + string(t)
	case '{':
		return "object"
	case '[':
		return "array " + string(t)
	case 't', 'f':
		return "boolean " + string(t)
	case 'n':
		return "null"
	default:
		return "number " + string(t)
	}
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

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// suggest returns the supported key closest to k, if it is close enough.
func suggest(k string) string {
	best, bestD := "", 4
	for cand := range keyKinds {
		if d := levenshtein(strings.ToLower(k), cand); d < bestD || (d == bestD && cand < best) {
			best, bestD = cand, d
		}
	}
	if bestD > 3 {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
