package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShimBinary: a missing or unsafe liveswapd-shim beside the daemon is
// a start error that names the file and the remedy.
func TestShimBinary(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		mode os.FileMode // 0: no file
		want []string    // "" = accepted
	}{
		{"missing", 0, []string{filepath.Join(dir, "missing", ShimName), "no such file", "install liveswapd-shim beside liveswapd"}},
		{"group-writable", 0o775, []string{"chmod go-w"}},
		{"not executable", 0o644, []string{"chmod u+x"}},
		{"fine", 0o755, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name, ShimName)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if tt.mode != 0 {
				if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				os.Chmod(p, tt.mode)
			}
			d := &Daemon{opts: Options{ShimBinary: p}, shimBeside: true}
			got, err := d.shimBinary()
			if tt.want == nil {
				if err != nil || got != p {
					t.Fatalf("shimBinary = %q, %v; want %q", got, err, p)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want one containing %q", err, w)
				}
			}
		})
	}
}
