package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/upgrade"
	"github.com/liveswap/liveswap/upgrade/liverestore"
)

func TestEnableLiveRestoreFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
		check    func(t *testing.T, o *enableLiveRestoreOptions)
	}{
		{"defaults", nil, 0, "", func(t *testing.T, o *enableLiveRestoreOptions) {
			if o.Output != "table" || o.DryRun || o.Yes || o.Timeout.Seconds() != 30 {
				t.Errorf("defaults: %+v", o)
			}
		}},
		{"target flags", []string{"--target", "liveswapd", "--unit", "x.service", "--systemd", "user", "--endpoint", "unix:///x.sock",
			"--daemon-config", "/x/daemon.json", "--yes", "-o", "json", "--dry-run"}, 0, "", func(t *testing.T, o *enableLiveRestoreOptions) {
			if o.Target.Target != "liveswapd" || o.Target.Unit != "x.service" || o.Target.Systemd != "user" || o.Target.Endpoint != "unix:///x.sock" ||
				o.Target.DaemonConfig != "/x/daemon.json" || !o.Yes || o.Output != "json" || !o.DryRun {
				t.Errorf("flags not set: %+v", o)
			}
		}},
		{"plan and target flags", []string{"--plan", "p.yaml", "--unit", "x.service"}, 2, "--plan describes the target: drop --unit", nil},
		{"bad output", []string{"--output", "junit"}, 2, `--output "junit"`, nil},
		{"positional", []string{"extra"}, 2, "unknown command", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// An empty config file: the host's /etc/liveswap must not leak in.
			cfg := filepath.Join(t.TempDir(), "liveswap.yaml")
			if err := os.WriteFile(cfg, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("LIVESWAP_CONFIG", cfg)
			var got *enableLiveRestoreOptions
			cmd := newEnableLiveRestoreCmd(func(o *enableLiveRestoreOptions) error { got = o; return nil })
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, got)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
			var ee *exitError
			if errors.As(err, &ee) && ee.code != tt.wantCode {
				t.Errorf("exit %d, want %d", ee.code, tt.wantCode)
			}
		})
	}
}

func TestEnableLiveRestoreRunInputErrors(t *testing.T) {
	noSystemd := func(context.Context, systemd.Scope) (*systemd.Manager, error) {
		return nil, errors.New("no systemd here")
	}
	tests := []struct {
		name string
		o    enableLiveRestoreOptions
		want string
	}{
		{"plan missing", enableLiveRestoreOptions{PlanFile: "/nonexistent/plan.yaml", Yes: true}, "reading plan"},
		{"no terminal, no --yes", enableLiveRestoreOptions{}, "use --yes in scripts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			var out bytes.Buffer
			o.Out, o.Err, o.Output, o.connect = &out, &out, "table", noSystemd
			err := enableLiveRestoreRun(context.Background(), &o)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("exit %d err %v, want 2 with %q", exitCode(err), err, tt.want)
			}
		})
	}
}

func TestWriteEnableResult(t *testing.T) {
	r := &liverestore.Result{Result: liverestore.Planned, Target: "docker", Unit: "docker.service", DaemonConfig: "/etc/docker/daemon.json",
		DaemonVersion: "20.10.24", FileChanged: true, Diff: "--- /etc/docker/daemon.json\n+++ /etc/docker/daemon.json\n@@ -1 +1 @@\n-{}\n+{\"live-restore\": true}\n",
		BeforeUpgrade: []string{"[fail] unit.kill-mode: KillMode=control-group -> set KillMode=process"}}
	tests := []struct {
		format string
		want   []string
	}{
		{"table", []string{"result:       planned", "live restore: off -> on (after the reload)", `+{"live-restore": true}`, "Before an upgrade is safe", "unit.kill-mode"}},
		{"json", []string{`"result": "planned"`, `"before_upgrade": [`, `"diff": "--- /etc/docker/daemon.json`}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeEnableResult(&b, tt.format, r); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			if tt.format == "json" && !json.Valid(b.Bytes()) {
				t.Errorf("not JSON:\n%s", b.String())
			}
		})
	}
}

func TestEnableExitStatus(t *testing.T) {
	for result, want := range map[upgrade.Result]int{liverestore.Enabled: 0, liverestore.Refused: 1, liverestore.Restored: 3, liverestore.Failed: 4} {
		var b bytes.Buffer
		err := finishEnable(&enableLiveRestoreOptions{Out: &b, Output: "json"}, &liverestore.Result{Result: result})
		if got := exitCode(err); got != want {
			t.Errorf("%s: exit %d, want %d", result, got, want)
		}
	}
}
