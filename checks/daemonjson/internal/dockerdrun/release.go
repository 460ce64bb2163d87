package dockerdrun

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Release is one real Debian build of dockerd with the containerd and runc
// of the same Debian release, as e2e/releases.sh unpacks them: a verdict
// is only worth something when dockerd runs beside the containerd it was
// shipped with.
type Release struct {
	Name       string // the upstream version the verdict files are named after
	Suite      string // Debian suite it comes from
	Docker     string // unpacked docker.io (usr/sbin/dockerd, usr/sbin/docker-proxy)
	Containerd string // unpacked containerd (usr/bin/containerd, shims)
	Runc       string // unpacked runc (usr/sbin/runc)
}

// Dockerd is the release's dockerd binary, seen from the host.
func (r Release) Dockerd() string { return filepath.Join(r.Docker, "usr/sbin/dockerd") }

// Known are the releases the oracle labels the corpus with: one per Debian
// suite a host runs, each with its suite's containerd and runc (the
// Debian version prefixes of e2e/releases.sh).
var Known = []struct{ Name, Suite, Docker, Containerd, Runc string }{
	{"20.10.5", "bullseye-security", "20.10.5+", "1.4.13~", "1.0.0~rc93"},
	{"20.10.24", "bookworm", "20.10.24+", "1.6.20~", "1.1.5+"},
	{"26.1.5", "trixie", "26.1.5+", "1.7.24~", "1.1.15+"},
}

// FindReleases runs e2e/releases.sh of the module at root (it fetches what
// is missing, as root) and returns the Known releases, oldest first.
func FindReleases(root string) ([]Release, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(root, "e2e", "releases.sh"))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("e2e/releases.sh: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	type unpacked struct{ pkg, version, dir string }
	var all []unpacked
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			if _, err := os.Stat(filepath.Join(f[2], ".complete")); err == nil {
				all = append(all, unpacked{f[0], f[1], f[2]})
			}
		}
	}
	find := func(pkg, prefix string) (string, error) {
		for _, u := range all {
			if u.pkg == pkg && strings.HasPrefix(u.version, prefix) {
				return u.dir, nil
			}
		}
		return "", fmt.Errorf("e2e/releases.sh lists no %s %s*: add it there", pkg, prefix)
	}
	var rels []Release
	for _, k := range Known {
		r := Release{Name: k.Name, Suite: k.Suite}
		var err error
		if r.Docker, err = find("docker.io", k.Docker); err != nil {
			return nil, err
		}
		if r.Containerd, err = find("containerd", k.Containerd); err != nil {
			return nil, err
		}
		if r.Runc, err = find("runc", k.Runc); err != nil {
			return nil, err
		}
		rels = append(rels, r)
	}
	return rels, nil
}

// ModuleRoot finds the directory of go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
