package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestMetricsFileFolderMissing: a metrics path that cannot be written is a
// usage error found before the run, not after it.
func TestMetricsFileFolderMissing(t *testing.T) {
	tests := [][]string{
		{"apply", "/nonexistent/plan.yaml", "--yes", "--metrics-file", "/nonexistent/dir/liveswap.prom"},
		{"rollback", "--yes", "--state-dir", "/nonexistent/state", "--metrics-file", "/nonexistent/dir/liveswap.prom"},
	}
	for _, args := range tests {
		t.Run(args[0], func(t *testing.T) {
			r := newRootCmd()
			var out bytes.Buffer
			r.SetOut(&out)
			r.SetErr(&out)
			r.SetArgs(args)
			err := r.Execute()
			if exitCode(err) != 2 || !strings.Contains(err.Error(), "--metrics-file /nonexistent/dir/liveswap.prom") {
				t.Fatalf("exit %d err %v, want 2 naming the metrics file", exitCode(err), err)
			}
		})
	}
}
