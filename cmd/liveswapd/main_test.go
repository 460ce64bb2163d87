package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/testbuild"
)

// TestValidate builds liveswapd and runs `liveswapd --validate` the way
// liveswap's pre-flight does: the exit status, the two output streams, and
// that nothing a start would create appears.
func TestValidate(t *testing.T) {
	bin := testbuild.Liveswapd(t)
	tests := []struct {
		name    string
		content string // "" writes no file
		flags   []string
		code    int
		stdout  string
		stderr  []string
	}{
		{"valid", "{\n  \"live-restore\": true,\n  \"shutdown-timeout\": 5\n}", nil, 0, "live-restore: true\n", []string{"configuration OK"}},
		{"live-restore false is still valid", "{\n  \"live-restore\": false\n}", nil, 0, "live-restore: false\n", []string{"configuration OK"}},
		{"syntax error", "{\n  \"live-restore\": true,\n  \"debug\": tru\n}", nil, 1, "", []string{"line 3 column", "invalid JSON"}},
		{"unknown key", "{\n  \"live-restore\": true,\n  \"bogus-key\": 1\n}", nil, 1, "", []string{"line 3", `key "bogus-key"`, "unknown key"}},
		{"flag/file conflict", "{\n  \"live-restore\": true\n}", []string{"--live-restore"}, 1, "", []string{"line 2", `key "live-restore"`, "both as a flag and in the configuration file"}},
		{"named file missing", "", nil, 1, "", []string{"reading config file"}},
		{"bad flag", "{}", []string{"--no-such-flag"}, 2, "", []string{"flag provided but not defined: -no-such-flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "daemon.json")
			if tt.content != "" {
				if err := os.WriteFile(cfg, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"--validate", "--config-file", cfg, "--data-root", dir + "/data",
				"--exec-root", dir + "/exec", "--pidfile", dir + "/pid", "-H", "unix://" + dir + "/sock"}, tt.flags...)
			cmd := exec.Command(bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			// One line: a caller shows it as the verdict.
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; lines != 1 {
				t.Errorf("stderr has %d lines, want 1:\n%s", lines, stderr.String())
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			for _, p := range []string{"data", "exec", "pid", "sock"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was created: --validate must start nothing", p)
				}
			}
		})
	}
}
