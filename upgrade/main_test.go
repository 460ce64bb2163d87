package upgrade

import (
	"os"
	"testing"

	"github.com/liveswap/liveswap/internal/host/state"
)

// TestMain points the locks of units and files at a folder of the test
// run's own: liveswap's default, /run/liveswap/locks, would outlive it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lslocks-")
	if err != nil {
		panic(err)
	}
	os.Setenv(state.LockDirEnv, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
