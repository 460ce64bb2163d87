package config

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		args      []string
		code      int
		stdout    string
		stderrHas []string
	}{
		{"valid", "{\n  \"live-restore\": true,\n  \"debug\": true\n}", nil, 0, "live-restore: true\n", []string{"configuration OK"}},
		{"live-restore false is still valid", `{"live-restore": false}`, nil, 0, "live-restore: false\n", []string{"configuration OK"}},
		{"flag turns it on", `{}`, []string{"--live-restore"}, 0, "live-restore: true\n", []string{"configuration OK"}},
		{"syntax error", "{\n  \"live-restore\": true,\n  \"debug\": tru\n}", nil, 1, "", []string{"daemon.json line 3 column", "invalid JSON"}},
		{"unknown key", "{\n  \"live-restore\": true,\n  \"live-restor\": false\n}", nil, 1, "", []string{"daemon.json line 3", `key "live-restor"`, `did you mean "live-restore"`}},
		{"flag/file conflict", "{\n  \"live-restore\": true\n}", []string{"--live-restore"}, 1, "", []string{"daemon.json line 2", `key "live-restore"`, "both as a flag and in the configuration file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "daemon.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			fs := flag.NewFlagSet("liveswapd", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := NewFlags(fs)
			// Paths a start would create, to prove none is.
			args := append([]string{"--config-file", path, "--exec-root", dir + "/exec", "--pidfile", dir + "/pid"}, tt.args...)
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := Validate(f, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			for _, w := range tt.stderrHas {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("validate created files: %v", ents)
			}
		})
	}
}
