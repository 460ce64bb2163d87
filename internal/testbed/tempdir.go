package testbed

import (
	"os"
)

// shortDir makes a folder under /tmp with a short name: unix socket paths
// inside it must stay under 108 bytes, which t.TempDir's names can exceed.
// It is removed when the test ends, after everything started in it stopped.
func shortDir(t T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		sweep(t, dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("testbed: removing %s: %v", dir, err)
		}
	})
	return dir
}

// ShortDir is shortDir for tests: a /tmp folder whose leftover processes are
// killed and which is removed when the test ends.
func ShortDir(t T, prefix string) string {
	t.Helper()
	return shortDir(t, prefix)
}
