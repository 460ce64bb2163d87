package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/testbed"
)

// TestValidateReadsUnitOverDBus: `validate --unit` takes the ExecStart flags
// from the loaded unit (systemd's view, drop-ins included), so a setting
// given both there and in daemon.json is caught as dockerd would refuse it.
func TestValidateReadsUnitOverDBus(t *testing.T) {
	testbed.Require(t, testbed.DockerdBin)
	sd := testbed.StartSystemd(t)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{\n  \"live-restore\": true,\n  \"log-level\": \"debug\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		unit, flags string
		wantCode    int
		want        string
	}{
		{"lsv-clean.service", "", 0, ""},
		{"lsv-conflict.service", "--log-level info", 1, "daemon-json.flag-conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			// Installed, never started: validate only reads it.
			sd.InstallUnit(t, tt.unit, "[Service]\nType=notify\nExecStart="+testbed.DockerdBin+" --config-file "+cfg+" "+tt.flags+"\n")
			code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "validate", "--unit", tt.unit, "--systemd", "user", "--docker-version", "20.10")
			t.Logf("exit %d\n%s%s", code, stdout, stderr)
			if code != tt.wantCode || !strings.Contains(stdout, tt.want) {
				t.Fatalf("exit %d, want %d with %q", code, tt.wantCode, tt.want)
			}
		})
	}
}
