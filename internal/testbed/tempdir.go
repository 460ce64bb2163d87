package testbed

import (
	"os"
	"strings"
)

// shortDir makes a folder under /tmp with a short name: unix socket paths
// inside it must stay under 108 bytes, which t.TempDir's names can exceed.
// It is removed when the test ends, after everything started in it stopped;
// a process still running there then, or a folder that cannot be removed,
// fails the test: it leaked.
func shortDir(t T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		leaked := sweep(dir)
		rmErr := os.RemoveAll(dir)
		switch {
		case len(leaked) > 0:
			t.Fatalf("testbed: processes in %s outlived the test (killed now): %s", dir, strings.Join(leaked, "; "))
		case rmErr != nil:
			t.Fatalf("testbed: removing %s: %v", dir, rmErr)
		}
	})
	return dir
}

// ShortDir is shortDir for tests: a /tmp folder which is removed when the
// test ends; a process still running in it then fails the test.
func ShortDir(t T, prefix string) string {
	t.Helper()
	return shortDir(t, prefix)
}
