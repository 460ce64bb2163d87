package e2e

import (
	"os"
	"testing"

	"github.com/liveswap/liveswap/internal/host/state"
	"github.com/liveswap/liveswap/internal/testbed"
)

func TestMain(m *testing.M) {
	// The crash tests re-run this binary as a liveswap that stops after
	// swapping, to be SIGKILLed there.
	if os.Getenv(heldApplyEnv) != "" {
		os.Exit(heldApply())
	}
	// One lock folder for the whole run (liveswap's default, /run/liveswap/locks,
	// would outlive it); the liveswap processes tests start inherit it.
	locks := ""
	if os.Getenv(state.LockDirEnv) == "" {
		dir, err := os.MkdirTemp("", "lslocks-")
		if err != nil {
			panic(err)
		}
		os.Setenv(state.LockDirEnv, dir)
		locks = dir
	}
	code := m.Run()
	testbed.CleanupBuilds()
	if locks != "" {
		os.RemoveAll(locks)
	}
	os.Exit(code)
}
