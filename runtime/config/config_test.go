package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadWith(t *testing.T, content string, args ...string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("liveswapd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := NewFlags(fs)
	if err := fs.Parse(append([]string{"--config-file", path}, args...)); err != nil {
		t.Fatal(err)
	}
	return f.Load()
}

func TestConfigValid(t *testing.T) {
	cfg, err := loadWith(t, `{
  "live-restore": true,
  "hosts": ["unix:///tmp/x.sock"],
  "data-root": "/tmp/d",
  "exec-root": "/tmp/e",
  "pidfile": "/tmp/p.pid",
  "log-level": "warn",
  "debug": false,
  "shutdown-timeout": 3,
  "api-read-timeout": 7,
  "api-idle-timeout": 9,
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"}
}`)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{LiveRestore: true, Hosts: []string{"unix:///tmp/x.sock"}, DataRoot: "/tmp/d", ExecRoot: "/tmp/e",
		Pidfile: "/tmp/p.pid", LogLevel: "warn", ShutdownTimeout: 3, APIReadTimeout: 7, APIIdleTimeout: 9,
		LogDriver: "json-file", LogOpts: map[string]string{"max-size": "10m", "max-file": "3"}, ConfigFile: cfg.ConfigFile}
	if strings.Join(cfg.Hosts, ",") != strings.Join(want.Hosts, ",") {
		t.Errorf("hosts = %v", cfg.Hosts)
	}
	cfg.Hosts, want.Hosts = nil, nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config = %+v\nwant %+v", cfg, want)
	}
}

func TestConfigDefaultsAndFlags(t *testing.T) {
	cfg, err := loadWith(t, "", "--live-restore", "-H", "unix:///tmp/a.sock", "--host", "unix:///tmp/b.sock", "--data-root", "/srv/d")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.LiveRestore || cfg.DataRoot != "/srv/d" || len(cfg.Hosts) != 2 || cfg.ExecRoot != DefaultConfig().ExecRoot {
		t.Errorf("config = %+v", cfg)
	}
}

func TestConfigMissingDefaultFileIsFine(t *testing.T) {
	fs := flag.NewFlagSet("liveswapd", flag.ContinueOnError)
	f := NewFlags(fs)
	fs.Parse(nil)
	f.ConfigFile = filepath.Join(t.TempDir(), "absent.json")
	if _, err := f.Load(); err != nil {
		t.Fatalf("a missing default config file must not be an error: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		args    []string
		line    int
		key     string
		msg     string
	}{
		{"syntax", "{\n  \"live-restore\": true,\n  \"debug\": tru\n}", nil, 3, "", "invalid JSON"},
		{"trailing comma", "{\n  \"live-restore\": true,\n}", nil, 3, "", "invalid JSON"},
		{"truncated", "{\n  \"live-restore\": true", nil, 2, "", "unexpected end"},
		{"not an object", "[1]", nil, 1, "", "one JSON object"},
		{"unknown key", "{\n  \"live-restore\": true,\n  \"live-restor\": true\n}", nil, 3, "live-restor", `did you mean "live-restore"`},
		{"unknown far key", "{\n\n  \"storage-driver\": \"vfs\"\n}", nil, 3, "storage-driver", "unknown key"},
		{"wrong type bool", "{\n  \"live-restore\": \"yes\"\n}", nil, 2, "live-restore", "expected boolean, got string"},
		{"wrong type null", "{\"debug\": null}", nil, 1, "debug", "expected boolean, got null"},
		{"wrong type hosts", "{\n \"hosts\": \"unix:///x.sock\"\n}", nil, 2, "hosts", "expected array of strings"},
		{"wrong type int", "{\"shutdown-timeout\": 1.5}", nil, 1, "shutdown-timeout", "expected integer"},
		{"negative timeout", "{\"shutdown-timeout\": -3}", nil, 1, "shutdown-timeout", "negative"},
		{"tcp host", "{\n  \"hosts\": [\"unix:///x.sock\",\n            \"tcp://0.0.0.0:2375\"]\n}", nil, 2, "hosts", "tcp hosts are not supported"},
		{"relative root", "{\"data-root\": \"var/lib\"}", nil, 1, "data-root", "absolute path"},
		{"bad level", "{\"log-level\": \"loud\"}", nil, 1, "log-level", "unsupported log level"},
		{"duplicate", "{\"debug\": true,\n\"debug\": false}", nil, 2, "debug", "set twice"},
		{"syslog driver", "{\n  \"log-driver\": \"syslog\"\n}", nil, 2, "log-driver", `log driver "syslog" is not supported by liveswapd: use json-file`},
		{"unknown log-opt", "{\"log-driver\": \"json-file\",\n \"log-opts\": {\"compress\": \"true\"}}", nil, 2, "log-opts", `log-opt "compress" is not supported`},
		{"bad max-size", "{\"log-opts\": {\"max-size\": \"lots\"}}", nil, 1, "log-opts", "max-size"},
		{"max-file without max-size", "{\"log-opts\": {\"max-file\": \"3\"}}", nil, 1, "log-opts", "needs max-size"},
		{"opts of the none driver", "{\"log-driver\": \"none\",\n\"log-opts\": {\"max-size\": \"1m\"}}", nil, 2, "log-opts", "takes no log-opt"},
		{"log-opts not strings", "{\"log-opts\": {\"max-file\": 3}}", nil, 1, "log-opts", "expected object of strings"},
		{"zero read timeout", "{\"api-read-timeout\": 0}", nil, 1, "api-read-timeout", ">= 1"},
		{"flag conflict", "{\n  \"live-restore\": true\n}", []string{"--live-restore=false"}, 2, "live-restore", "both as a flag and in the configuration file"},
		{"flag conflict shorthand", "{\"debug\": true,\n \"hosts\": [\"unix:///a.sock\"]}", []string{"-H", "unix:///b.sock"}, 2, "hosts", "both as a flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWith(t, tt.content, tt.args...)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want a *ConfigError", err)
			}
			if ce.Line != tt.line || ce.Key != tt.key || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %q (line %d key %q), want line %d key %q containing %q", err, ce.Line, ce.Key, tt.line, tt.key, tt.msg)
			}
			if tt.key != "" && !strings.Contains(err.Error(), `key "`+tt.key+`"`) {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
}

func TestConfigFlagErrors(t *testing.T) {
	if _, err := loadWith(t, "", "-H", "tcp://127.0.0.1:2375"); err == nil || !strings.Contains(err.Error(), "tcp hosts are not supported") {
		t.Errorf("tcp flag host: %v", err)
	}
	if _, err := loadWith(t, "", "--log-level", "loud"); err == nil {
		t.Error("bad --log-level accepted")
	}
}

func TestConfigSocketActivation(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		args      []string
		activated bool
		paths     string
	}{
		{"flag", "", []string{"-H", "fd://"}, true, ""},
		{"file", `{"hosts": ["fd://", "unix:///tmp/also.sock"]}`, nil, true, "/tmp/also.sock"},
		{"unix only", `{"hosts": ["unix:///tmp/a.sock"]}`, nil, false, "/tmp/a.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadWith(t, tt.file, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.SocketActivated() != tt.activated || strings.Join(cfg.SocketPaths(), ",") != tt.paths {
				t.Errorf("activated %v paths %q, want %v %q", cfg.SocketActivated(), cfg.SocketPaths(), tt.activated, tt.paths)
			}
		})
	}
	if _, err := loadWith(t, `{"hosts": ["fd://x", "tcp://0.0.0.0:2375"]}`); err == nil {
		t.Error("fd://NAME and tcp:// accepted")
	}
}
