package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/testbed"
)

// TestDemo runs `liveswap demo` as `make demo` does: it must tell its whole
// story (upgrade, refusal, caught interruption) and leave nothing behind.
func TestDemo(t *testing.T) {
	testbed.Require(t, testbed.NginxBin, testbed.RedisBin)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	old := testbed.Build(t, "liveswapd", "1.0.0")
	next := testbed.Build(t, "liveswapd", "1.0.1")
	before, _ := os.ReadDir("/tmp")
	code, stdout, stderr := liveswapCLI(t, liveswap, nil, "demo", "--old", old, "--new", next)
	t.Logf("demo exit %d\n%s", code, stdout)
	if code != 0 {
		t.Fatalf("demo failed (exit %d)\nstderr:\n%s", code, stderr)
	}
	for _, want := range []string{"result:   upgraded", "result:   refused", "result:   failed", "demo finished"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	after, _ := os.ReadDir("/tmp")
	for _, e := range after {
		if strings.HasPrefix(e.Name(), "liveswap-demo-") && !contains(before, e.Name()) {
			t.Errorf("demo left /tmp/%s behind", e.Name())
		}
	}
}

func contains(ents []os.DirEntry, name string) bool {
	for _, e := range ents {
		if e.Name() == name {
			return true
		}
	}
	return false
}
