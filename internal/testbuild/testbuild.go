// Package testbuild builds the project's commands for tests that run them
// as a caller would (liveswap asks a liveswapd binary about its config).
package testbuild

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Liveswapd builds cmd/liveswapd into a folder of the test, with
// liveswapd-shim beside it where the daemon looks for its shim, and
// returns liveswapd's path; the Go build cache makes repeated builds cheap.
func Liveswapd(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, cmd := range []string{"liveswapd", "liveswapd-shim"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "github.com/liveswap/liveswap/cmd/"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("go build cmd/%s: %v\n%s", cmd, err, out)
		}
	}
	return filepath.Join(dir, "liveswapd")
}
