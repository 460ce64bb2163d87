package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/dpkg"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/plan/discover"
)

// packageFlags are `liveswap plan`'s package flags.
type packageFlags struct {
	Debs     []string // --deb FILE
	Apt      []string // --apt NAME=VERSION
	Previous []string // --previous-deb FILE
	Dir      string   // --packages-dir: where packages are downloaded and extracted
}

func (f packageFlags) any() bool { return len(f.Debs)+len(f.Apt) > 0 }

// packageBinaries are the files of a package that a unit runs: the plan
// names them, so the pre-flight judges them as any new binary and apply
// checks each unit runs its new file. dpkg installs the others (runc, the
// shims, docker-proxy) with them.
var packageBinaries = []string{"/usr/sbin/dockerd", "/usr/bin/containerd"}

// stagePackages downloads the --apt packages, extracts every package into
// the packages folder and adds the binaries it holds to the target flags
// as --new-binary, each with the sha256 of its extracted file. Nothing on
// the host outside that folder is touched.
func stagePackages(ctx context.Context, f packageFlags, t *discover.Flags, log io.Writer) ([]plan.Package, error) {
	if len(t.NewBinary) > 0 {
		return nil, fmt.Errorf("--deb and --apt install packages, --new-binary swaps a file behind dpkg's back: give one or the other")
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("--packages-dir %s: %w", f.Dir, err)
	}
	debs := append([]string(nil), f.Debs...)
	for _, a := range f.Apt {
		name, version, ok := strings.Cut(a, "=")
		if !ok || name == "" || version == "" {
			return nil, fmt.Errorf("--apt %q: use NAME=VERSION (example: docker.io=20.10.24+dfsg1-1+deb12u1+b6)", a)
		}
		fmt.Fprintf(log, "downloading %s=%s into %s\n", name, version, f.Dir)
		file, err := dpkg.AptDownload(ctx, f.Dir, name, version)
		if err != nil {
			return nil, fmt.Errorf("--apt %s: %w", a, err)
		}
		debs = append(debs, file)
	}
	var pkgs []plan.Package
	for _, file := range debs {
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, err
		}
		d, err := dpkg.Inspect(ctx, abs)
		if err != nil {
			return nil, fmt.Errorf("--deb %s: %w", file, err)
		}
		sum, err := checks.FileSHA256(abs)
		if err != nil {
			return nil, fmt.Errorf("--deb %s: %w", file, err)
		}
		// A fresh folder per package version: files of an earlier
		// extraction must not be judged as this package's.
		dir := filepath.Join(f.Dir, d.Name+"_"+strings.ReplaceAll(d.Version, ":", "%3a"))
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		if err := dpkg.Extract(ctx, abs, dir); err != nil {
			return nil, err
		}
		k := plan.Package{Name: d.Name, Version: d.Version, Arch: d.Arch, File: abs, SHA256: sum, Extracted: dir, Units: unitFiles(dir)}
		for _, b := range packageBinaries {
			nf := k.ExtractedPath(b)
			if _, err := os.Stat(nf); err != nil {
				continue
			}
			s, err := checks.FileSHA256(nf)
			if err != nil {
				return nil, err
			}
			k.Binaries = append(k.Binaries, b)
			t.NewBinary, t.SHA256 = append(t.NewBinary, nf), append(t.SHA256, s)
		}
		pkgs = append(pkgs, k)
	}
	if len(t.NewBinary) == 0 {
		return nil, fmt.Errorf("no package holds a daemon liveswap restarts (%s): nothing to upgrade live", strings.Join(packageBinaries, ", "))
	}
	return pkgs, nil
}

// unitFiles lists the systemd units a package installs (Debian 11 ships
// them under /lib, 12 under /usr/lib).
func unitFiles(dir string) []string {
	var units []string
	for _, d := range []string{"lib/systemd/system", "usr/lib/systemd/system"} {
		m, _ := filepath.Glob(filepath.Join(dir, d, "*.service"))
		for _, f := range m {
			units = append(units, filepath.Base(f))
		}
	}
	sort.Strings(units)
	return units
}

// previousPackages records what dpkg has installed now for each package
// and where its .deb can be had for a rollback: a --previous-deb, apt's
// cache, or apt's sources (downloaded now, before anything is touched).
// One that cannot be had is left without a file: pre-flight refuses it.
func previousPackages(ctx context.Context, f packageFlags, pkgs []plan.Package, log io.Writer) error {
	given := map[string]dpkg.Deb{}
	for _, file := range f.Previous {
		abs, err := filepath.Abs(file)
		if err != nil {
			return err
		}
		d, err := dpkg.Inspect(ctx, abs)
		if err != nil {
			return fmt.Errorf("--previous-deb %s: %w", file, err)
		}
		given[d.Name+"="+d.Version] = d
	}
	for i := range pkgs {
		k := &pkgs[i]
		inst, err := dpkg.Query(ctx, k.Name)
		if err != nil {
			return fmt.Errorf("package %s: %w", k.Name, err)
		}
		if inst.Version == "" {
			fmt.Fprintf(log, "note: %s is not installed: a rollback cannot reinstall it\n", k.Name)
			continue
		}
		k.Previous = plan.PackageRef{Version: inst.Version}
		file := ""
		if d, ok := given[k.Name+"="+inst.Version]; ok {
			file = d.File
		} else if a := dpkg.ArchiveFile(dpkg.AptArchives, k.Name, inst.Version, inst.Arch); fileExists(a) {
			file = a
		} else if dpkg.AptCandidate(ctx, k.Name, inst.Version) {
			fmt.Fprintf(log, "downloading %s=%s (for a rollback) into %s\n", k.Name, inst.Version, f.Dir)
			if file, err = dpkg.AptDownload(ctx, f.Dir, k.Name, inst.Version); err != nil {
				fmt.Fprintf(log, "note: %v\n", err)
			}
		}
		if file == "" {
			fmt.Fprintf(log, "note: no .deb of %s %s (installed now) was found: give it with --previous-deb FILE, or apply refuses the plan\n", k.Name, inst.Version)
			continue
		}
		sum, err := checks.FileSHA256(file)
		if err != nil {
			return err
		}
		k.Previous.File, k.Previous.SHA256 = file, sum
	}
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
