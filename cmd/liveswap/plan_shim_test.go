package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/plan"
)

// TestShimNote: a liveswapd plan that leaves out the shim lying beside the
// new liveswapd says so; one that has it, or a new build without one, or
// another kind, says nothing.
func TestShimNote(t *testing.T) {
	withShim, without := t.TempDir(), t.TempDir()
	for _, d := range []string{withShim, without} {
		os.WriteFile(filepath.Join(d, "liveswapd"), []byte("x"), 0o755)
	}
	os.WriteFile(filepath.Join(withShim, plan.LiveswapdShim), []byte("x"), 0o755)
	daemon := func(dir string) plan.Binary {
		return plan.Binary{Path: "/usr/local/bin/liveswapd", NewFile: filepath.Join(dir, "liveswapd"), Component: plan.Liveswapd}
	}
	tests := []struct {
		name     string
		binaries []plan.Binary
		want     string
	}{
		{"shim beside, not planned", []plan.Binary{daemon(withShim)}, "add --new-binary " + filepath.Join(withShim, plan.LiveswapdShim)},
		{"shim planned", []plan.Binary{daemon(withShim), {Path: "/usr/local/bin/liveswapd-shim", NewFile: filepath.Join(withShim, plan.LiveswapdShim), Component: plan.LiveswapdShim}}, ""},
		{"no shim in the new build", []plan.Binary{daemon(without)}, ""},
		{"dockerd", []plan.Binary{{Path: "/usr/bin/dockerd", NewFile: filepath.Join(withShim, "liveswapd"), Component: "dockerd"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			shimNote(&b, &plan.Plan{Binaries: tt.binaries})
			if got := b.String(); (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("note %q, want one containing %q", got, tt.want)
			}
		})
	}
}
