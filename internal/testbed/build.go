package testbed

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
	buildDir   string
)

// moduleRoot is the folder of liveswap's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Build compiles one of liveswap's commands ("liveswap", "liveswapd") with
// version stamped in, once per test process, and returns a fresh copy the
// caller may move or replace. The copy lives in the test's temp folder;
// liveswapd gets liveswapd-shim beside it, where it looks for its shim.
func Build(t T, command, version string) string {
	t.Helper()
	bin := BuildPackage(t, "./cmd/"+command, command, "-X main.version="+version)
	if command == "liveswapd" {
		shim := BuildPackage(t, "./cmd/liveswapd-shim", "liveswapd-shim", "-s -w -X main.version="+version)
		if err := os.Rename(shim, filepath.Join(filepath.Dir(bin), "liveswapd-shim")); err != nil {
			t.Fatalf("%v", err)
		}
	}
	return bin
}

// BuildPackage compiles the main package pkg (relative to the module root)
// with ldflags, once per process, and returns a copy named name.
func BuildPackage(t T, pkg, name, ldflags string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "@" + ldflags
	bin, ok := buildCache[key]
	if !ok {
		if buildDir == "" {
			d, err := os.MkdirTemp("", "lsbuild-")
			if err != nil {
				t.Fatalf("%v", err)
			}
			buildDir = d
		}
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("testbed: go env GOMOD: %v", err)
		}
		bin = filepath.Join(buildDir, fmt.Sprintf("%s-%d", name, len(buildCache)))
		cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testbed: building %s: %v\n%s", pkg, err, out)
		}
		buildCache[key] = bin
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := copyFile(bin, dst); err != nil {
		t.Fatalf("%v", err)
	}
	return dst
}

// CopyBinary copies src (for example /usr/sbin/dockerd) into a folder of
// the test, so a test may swap it without touching the system's.
func CopyBinary(t T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := copyFile(src, dst); err != nil {
		t.Fatalf("%v", err)
	}
	return dst
}

// SHA256 hashes a file for plans and checks.
func SHA256(t T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// CleanupBuilds removes the shared build folder; call it from TestMain.
func CleanupBuilds() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
		buildDir = ""
	}
}
