package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Flags holds the command-line flags that mirror daemon.json keys, so a
// directive given both ways can be refused as dockerd does.
type Flags struct {
	fs         *flag.FlagSet
	ConfigFile string
	values     Config
	hosts      hostList
}

type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

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
