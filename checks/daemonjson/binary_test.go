package daemonjson

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDockerd writes a script that answers like a dockerd of the given
// version; with --validate it accepts files that do not contain "bad".
func fakeDockerd(t *testing.T, version, help string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dockerd")
	script := `#!/bin/sh
case "$1" in
--version) echo "Docker version ` + version + `, build x"; exit 0;;
--help) echo "` + help + `"; exit 0;;
--validate)
  if grep -q bad "$3"; then echo 'unable to configure the Docker daemon with file '"$3"': bad key' >&2; exit 1; fi
  echo "configuration OK"; exit 0;;
esac
exit 3
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateWithBinary(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(good, []byte(`{}`), 0o600)
	os.WriteFile(bad, []byte(`{"bad": 1}`), 0o600)
	tests := []struct {
		name, version, help, file string
		supported, ok             bool
		sev                       Severity
	}{
		{"20.10 without the flag", "20.10.24", "Usage: dockerd", good, false, false, OK},
		{"24 accepts", "24.0.7", "", good, true, true, OK},
		{"24 refuses", "24.0.7", "", bad, true, false, Fail},
		{"odd version with flag in help", "dev", "      --validate   Validate daemon configuration and exit", bad, true, false, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := fakeDockerd(t, tt.version, tt.help)
			res, err := ValidateWithBinary(context.Background(), bin, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if res.Supported != tt.supported || res.OK != tt.ok || res.Finding().Severity != tt.sev {
				t.Errorf("got %+v finding %+v", res, res.Finding())
			}
		})
	}
	if _, err := ValidateWithBinary(context.Background(), "/nonexistent/dockerd", good); err == nil {
		t.Error("no error for a missing binary")
	}
}

// fakeLiveswapd writes a script that answers --validate as liveswapd does
// (see runtime/config.Validate): refusals name the file, line and key.
func fakeLiveswapd(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "liveswapd")
	script := `#!/bin/sh
[ "$1" = --validate ] || exit 3
f="$3"; shift 3
case "$*" in *--bogus*) echo "flag provided but not defined: -bogus" >&2; exit 2;; esac
if grep -q conflict "$f"; then echo "unable to configure liveswapd with file $f line 2: key \"live-restore\": the following directives are specified both as a flag and in the configuration file: live-restore; remove one of them" >&2; exit 1; fi
if grep -q bogus "$f"; then echo "unable to configure liveswapd with file $f line 3 column 4: key \"bogus\": unknown key" >&2; exit 1; fi
echo "configuration OK" >&2
if grep -q '"live-restore": false' "$f"; then echo "live-restore: false"; else echo "live-restore: true"; fi
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBinaryFindings(t *testing.T) {
	const file = "/etc/liveswap/daemon.json"
	on, off := true, false
	old := filepath.Join(t.TempDir(), "old-liveswapd")
	os.WriteFile(old, []byte("#!/bin/sh\necho 'flag provided but not defined: -validate' >&2\necho 'Usage of liveswapd:' >&2\nexit 2\n"), 0o755)
	tests := []struct {
		name      string
		binary    string
		data      string
		flags     []string
		id        string
		sev       Severity
		key       string
		line, col int
		live      *bool
	}{
		{"accepts", "", `{"live-restore": true}`, []string{"--config-file", "/elsewhere.json"}, IDValid, OK, "", 0, 0, &on},
		{"accepts with live-restore off", "", `{"live-restore": false}`, nil, IDValid, OK, "", 0, 0, &off},
		{"unknown key", "", "{\n\n  \"bogus\": 1}", nil, IDValid, Fail, "bogus", 3, 4, nil},
		{"flag conflict", "", `{"live-restore": true, "conflict": 1}`, []string{"--live-restore"}, IDConflict, Fail, "live-restore", 2, 0, nil},
		{"bad ExecStart flag", "", `{}`, []string{"--bogus"}, IDExecStart, Fail, "", 0, 0, nil},
		{"release without --validate", old, `{}`, nil, IDValid, Warn, "", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := tt.binary
			if bin == "" {
				bin = fakeLiveswapd(t)
			}
			b := Binary{Path: bin, VersionOutput: "liveswapd version 1.0.1", Version: "1.0.1", Validated: func(string) bool { return true }}
			res, err := b.Validate(context.Background(), file, []byte(tt.data), tt.flags)
			if err != nil {
				t.Fatal(err)
			}
			fs := res.Findings()
			if len(fs) != 1 {
				t.Fatalf("findings %+v, want one", fs)
			}
			f := fs[0]
			if f.ID != tt.id || f.Severity != tt.sev || f.Key != tt.key || f.Line != tt.line || f.Col != tt.col {
				t.Errorf("finding %+v, want %s %s key %q at %d:%d", f, tt.id, tt.sev, tt.key, tt.line, tt.col)
			}
			if f.Severity == Fail && (!strings.Contains(f.Message, file) && tt.id != IDExecStart || strings.Contains(f.Message, os.TempDir()+"/liveswap-daemon-json-")) {
				t.Errorf("message %q does not name %s (or names the temporary copy)", f.Message, file)
			}
			if (res.LiveRestore == nil) != (tt.live == nil) || (tt.live != nil && *res.LiveRestore != *tt.live) {
				t.Errorf("live restore %v, want %v", res.LiveRestore, tt.live)
			}
		})
	}
}
