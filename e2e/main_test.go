package e2e

import (
	"os"
	"testing"

	"github.com/liveswap/liveswap/internal/testbed"
)

func TestMain(m *testing.M) {
	// The crash tests re-run this binary as a liveswap that stops after
	// swapping, to be SIGKILLed there.
	if os.Getenv(heldApplyEnv) != "" {
		os.Exit(heldApply())
	}
	code := m.Run()
	testbed.CleanupBuilds()
	os.Exit(code)
}
