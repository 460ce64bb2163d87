package e2e

import (
	"os"
	"testing"

	"github.com/liveswap/liveswap/e2e/testbed"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbed.CleanupBuilds()
	os.Exit(code)
}
