package testbed

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// A Release is one real Debian build of a package of the Docker stack,
// unpacked by e2e/releases.sh: the tests upgrade between these, never
// between re-installed copies of one version.
type Release struct {
	Package string // docker.io, containerd, runc
	Version string // Debian version, e.g. 20.10.5+dfsg1-1+deb11u4
	Root    string // the unpacked package: Root/usr/sbin/dockerd, Root/lib/systemd/system/...
}

// Path is a file of the package, e.g. "usr/sbin/dockerd".
func (r Release) Path(rel string) string { return filepath.Join(r.Root, rel) }

var (
	releasesOnce sync.Once
	releases     []Release
	releasesErr  string
)

// FindRelease returns the release of pkg whose Debian version starts with
// upstream (e.g. "20.10.5", "1.7"), fetching them all on first use (root).
func FindRelease(t T, pkg, upstream string) Release {
	t.Helper()
	releasesOnce.Do(loadReleases)
	if releasesErr != "" {
		t.Fatalf("testbed: real releases: %s", releasesErr)
	}
	for _, r := range releases {
		if r.Package == pkg && (r.Version == upstream || strings.HasPrefix(r.Version, upstream+".") ||
			strings.HasPrefix(r.Version, upstream+"+") || strings.HasPrefix(r.Version, upstream+"~")) {
			return r
		}
	}
	t.Fatalf("testbed: no release %s %s in e2e/releases.sh", pkg, upstream)
	return Release{}
}

func loadReleases() {
	root, err := moduleRoot()
	if err != nil {
		releasesErr = err.Error()
		return
	}
	var out, errb bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(root, "e2e", "releases.sh"))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		releasesErr = err.Error() + ": " + strings.TrimSpace(errb.String())
		return
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 {
			if _, err := os.Stat(filepath.Join(f[2], ".complete")); err == nil {
				releases = append(releases, Release{Package: f[0], Version: f[1], Root: f[2]})
			}
		}
	}
}
