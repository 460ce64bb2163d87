package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/engine"
)

func runValidate(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := newValidateCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(append([]string{"--endpoint", ""}, args...))
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	code = 0
	if err != nil {
		code = 2
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateCommand(t *testing.T) {
	good := writeFile(t, "daemon.json", `{"live-restore": true, "debug": true}`)
	noLR := writeFile(t, "daemon.json", `{"debug": true}`)
	typo := writeFile(t, "daemon.json", "{\n  \"live_restore\": true\n}")
	legacy := writeFile(t, "daemon.json", `{"disable-legacy-registry": true, "live-restore": true}`)
	hosts := writeFile(t, "daemon.json", `{"hosts": ["unix:///run/docker.sock"], "live-restore": true}`)
	unit := writeFile(t, "docker.service", "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// \\\n  --containerd=/run/containerd/containerd.sock\n")
	dup := writeFile(t, "daemon.json", `{"live-restore": true, "debug": true, "debug": false}`)
	tcp := writeFile(t, "daemon.json", "{\n  \"live-restore\": true,\n  \"hosts\": [\"tcp://0.0.0.0:2375\"]\n}")
	group := writeFile(t, "daemon.json", `{"live-restore": true, "group": "no-such-group-liveswap"}`)
	tests := []struct {
		name   string
		args   []string
		code   int
		out    []string // substrings of stdout
		errOut []string // substrings of stderr
	}{
		{"good file", []string{good}, 0, []string{"[ok] daemon-json.live-restore", "OK: dockerd 20.10 would start", "reloadable (systemctl reload docker): live-restore, debug"}, nil},
		{"live-restore missing warns", []string{noLR}, 0, []string{"[warn] daemon-json.live-restore"}, nil},
		{"live-restore missing strict", []string{"--strict", noLR}, 1, []string{"[fail] daemon-json.live-restore", "--strict found"}, nil},
		{"typo", []string{typo}, 1, []string{"[fail] daemon-json.unknown-key", typo + ":2:3", `did you mean "live-restore"`, "FAIL: dockerd 20.10 would refuse"}, nil},
		{"removed key on 24", []string{"--docker-version", "24.0", legacy}, 1, []string{"dockerd 24.0 refuses"}, nil},
		{"unit conflict", []string{"--unit-file", unit, hosts}, 1, []string{"[fail] daemon-json.flag-conflict", "by -H in ExecStart"}, nil},
		{"swarm", []string{"--swarm", good}, 1, []string{"[fail] daemon-json.swarm"}, nil},
		{"missing file", []string{filepath.Join(t.TempDir(), "nope.json")}, 2, nil, nil},
		{"bad version", []string{"--docker-version", "banana", good}, 2, nil, nil},
		{"never released: 21.0", []string{"--docker-version", "21.0", good}, 2, nil, []string{"dockerd 21.0 was never released", "20.10, 23.0, 24.0"}},
		{"never released: 22.06", []string{"--docker-version", "22.06", good}, 2, nil, []string{"dockerd 22.6 was never released"}},
		{"never released: 23.5", []string{"--docker-version", "23.5", good}, 2, nil, []string{"dockerd 23.5 was never released", "28.0 to 28.5"}},
		{"a later release: the newest rules, said", []string{"--docker-version", "29.0", good}, 0,
			[]string{"note: dockerd 29.0 is newer than the newest rule set: judged by the dockerd 28.5 rules", "OK: dockerd 28.5 would start"}, nil},
		{"strict: a duplicate key is not an upgrade-safety warning", []string{"--strict", dup}, 0,
			[]string{"[warn] daemon-json.duplicate-key", "OK: dockerd 20.10 would start"}, nil},
		{"unauthenticated tcp warns on 20.10", []string{tcp}, 0,
			[]string{"[warn] daemon-json.insecure-tcp  " + tcp + ":3:", "without TLS client verification", `set "tlsverify": true`, "OK: dockerd 20.10 would start"}, nil},
		{"unauthenticated tcp refused on 27", []string{"--docker-version", "27.0", tcp}, 1,
			[]string{"[fail] daemon-json.insecure-tcp", "FAIL: dockerd 27.0 would refuse"}, nil},
		{"bad output", []string{"--output", "yaml", good}, 2, nil, nil},
		{"two files", []string{good, good}, 2, nil, nil},
		// Every report says how sure its rule set is; --host adds what
		// depends on this host.
		{"rules alone pass", []string{"--docker-version", "26.1.5", group}, 0, []string{"OK: dockerd 26.1", "rules: dockerd 26.1 rules, checked against real starts of Debian's docker.io 26.1.5"}, nil},
		{"the host refuses", []string{"--docker-version", "20.10.24", "--host", group}, 1, []string{"daemon-json.host", "on this host: group no-such-group-liveswap not found", "groupadd", "checked against real starts of Debian's docker.io 20.10.5 and 20.10.24"}, nil},
		{"a version without a binary here says so", []string{"--docker-version", "24.0.7", group}, 0, []string{"no binary of 24.0 was started here"}, nil},
		{"newer than 26.1", []string{"--docker-version", "28.1.1", group}, 0, []string{"the least sure"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runValidate(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errs)
			}
			for _, s := range tt.out {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.errOut {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
		})
	}
}

// TestValidateJSONSchema pins the JSON fields documented in docs/validate.md.
// Every field is present in the full document (ExecStart from a unit file,
// a strict failure, a dockerd that judges the file), so those omitted when
// empty are pinned too.
func TestValidateJSONSchema(t *testing.T) {
	file := writeFile(t, "daemon.json", "{\n  \"live_restore\": true\n}")
	unit := writeFile(t, "docker.service", "[Service]\nExecStart=/usr/bin/dockerd -H fd://\n")
	dockerd := filepath.Join(t.TempDir(), "dockerd")
	script := "#!/bin/sh\ncase \"$1\" in --version) echo 'Docker version 24.0.7, build x';; *) echo 'configuration OK' >&2;; esac\n"
	if err := os.WriteFile(dockerd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _, code := runValidate(t, "--output", "json", "--docker-version", "20.10.24", "--strict", "--unit-file", unit, "--dockerd", dockerd, file)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	want := []string{"dockerVersion", "dockerVersionSource", "dockerdValidate", "execStart", "file", "findings", "keys", "passed", "rulesBasis",
		"schemaVersion", "starts", "strict"}
	if got := keysOf(doc); !reflect.DeepEqual(got, want) {
		t.Errorf("top-level fields %v, want %v", got, want)
	}
	if doc["schemaVersion"].(float64) != 1 || doc["starts"] != false || doc["dockerVersion"] != "20.10" {
		t.Errorf("doc %v", doc)
	}
	finding := func(id string) map[string]any {
		for _, f := range doc["findings"].([]any) {
			if m := f.(map[string]any); m["id"] == id {
				return m
			}
		}
		t.Fatalf("no %s finding in %v", id, doc["findings"])
		return nil
	}
	if got, want := keysOf(finding("daemon-json.unknown-key")), []string{"col", "id", "key", "line", "message", "remedy", "severity"}; !reflect.DeepEqual(got, want) {
		t.Errorf("finding fields %v, want %v", got, want)
	}
	if got, want := keysOf(finding("daemon-json.live-restore")), []string{"id", "key", "message", "remedy", "severity", "strict"}; !reflect.DeepEqual(got, want) {
		t.Errorf("strict finding fields %v, want %v", got, want)
	}
	key := doc["keys"].([]any)[0].(map[string]any)
	if got, want := keysOf(key), []string{"known", "name", "reloadable"}; !reflect.DeepEqual(got, want) {
		t.Errorf("key fields %v, want %v", got, want)
	}
	if got, want := keysOf(doc["dockerdValidate"].(map[string]any)), []string{"binary", "ok", "output", "supported", "version"}; !reflect.DeepEqual(got, want) {
		t.Errorf("dockerdValidate fields %v, want %v", got, want)
	}
	// Without those flags the optional fields are left out.
	out, _, _ = runValidate(t, "--output", "json", "--docker-version", "20.10.24", file)
	doc = nil
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := keysOf(doc), []string{"dockerVersion", "dockerVersionSource", "file", "findings", "keys", "passed", "rulesBasis", "schemaVersion", "starts", "strict"}; !reflect.DeepEqual(got, want) {
		t.Errorf("top-level fields without the optional flags %v, want %v", got, want)
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestValidateDefaultsFromUnitAndEndpoint(t *testing.T) {
	cfg := writeFile(t, "custom.json", `{"live-restore": true}`)
	unit := writeFile(t, "docker.service", "[Service]\nExecStart=/usr/bin/dockerd --config-file "+cfg+"\n")
	var got *ValidateOptions
	cmd := newValidateCmdWith(func(o *ValidateOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--unit-file", unit})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "" || got.Endpoint != engine.DefaultEndpoint || got.Output != "table" {
		t.Errorf("options %+v", got)
	}
	var out bytes.Buffer
	got.Out, got.Err = &out, &out
	got.versionOf = func(context.Context, string) (string, error) { return "24.0.7", nil }
	if err := validateRun(context.Background(), got); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if got.File != cfg || !strings.Contains(out.String(), "dockerd 24.0 would start") {
		t.Errorf("file %q, output:\n%s", got.File, out.String())
	}
}

func TestValidateHelp(t *testing.T) {
	out, _, code := runValidate(t, "--help")
	if code != 0 || !strings.Contains(out, "EXIT STATUS") || !strings.Contains(out, "liveswap validate --strict") ||
		!strings.Contains(out, "--strict and an upgrade-safety") || strings.Contains(out, "--strict and a warning was found") {
		t.Errorf("help (exit %d):\n%s", code, out)
	}
}
