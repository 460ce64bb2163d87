// Package testbuild builds the project's commands for tests that run them
// as a caller would (liveswap asks a liveswapd binary about its config).
package testbuild

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Liveswapd builds cmd/liveswapd into a folder of the test and returns
// its path; the Go build cache makes repeated builds cheap.
func Liveswapd(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "liveswapd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/liveswap/liveswap/cmd/liveswapd").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/liveswapd: %v\n%s", err, out)
	}
	return bin
}
