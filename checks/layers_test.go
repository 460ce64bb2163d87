package checks

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers pins the import rules of ARCHITECTURE.md that concern the
// pre-flight: checks and upgrade ask a liveswapd binary about its
// configuration (`liveswapd --validate`) instead of linking its code.
func TestLayers(t *testing.T) {
	const mod = "github.com/liveswap/liveswap/"
	tests := []struct {
		pkgs, forbidden string
	}{
		{mod + "checks/...", mod + "runtime"},
		{mod + "checks/...", mod + "upgrade"},
		{mod + "upgrade/...", mod + "runtime"},
		{mod + "upgrade/...", mod + "cmd/"},
	}
	for _, tt := range tests {
		out, err := exec.Command("go", "list", "-deps", tt.pkgs).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tt.pkgs, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == tt.forbidden || strings.HasPrefix(dep, strings.TrimSuffix(tt.forbidden, "/")+"/") {
				t.Errorf("%s depends on %s", tt.pkgs, dep)
			}
		}
	}
}
