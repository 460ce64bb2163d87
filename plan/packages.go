package plan

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Package is a .deb a plan installs with dpkg (Debian's docker.io,
// containerd, runc): dpkg's database stays true, and the package's own
// files — unit files, conffiles, docs — come with it. The plan's Binaries
// name the files of the package that run (extracted from File, so the
// pre-flight checks judge them as any new binary), and Previous is what a
// rollback reinstalls.
type Package struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
	Arch    string `yaml:"arch,omitempty" json:"arch,omitempty"`
	File    string `yaml:"file" json:"file"`     // the .deb
	SHA256  string `yaml:"sha256" json:"sha256"` // of File
	// Extracted is the folder File was unpacked into (dpkg-deb -x): the
	// binaries' newFile and the unit files the pre-flight audits are in it.
	Extracted string `yaml:"extracted" json:"extracted"`
	// Binaries are the installed paths of the package's files that the
	// plan's binaries name (e.g. /usr/sbin/dockerd).
	Binaries []string `yaml:"binaries,omitempty" json:"binaries,omitempty"`
	// Units are the unit files the package installs (names), audited
	// before it is installed.
	Units []string `yaml:"units,omitempty" json:"units,omitempty"`
	// Previous is the version dpkg records now and the .deb that holds
	// it: a rollback reinstalls it. An empty File is refused by pre-flight
	// (packages.previous): a rollback that cannot happen is found before.
	Previous PackageRef `yaml:"previous" json:"previous"`
}

// PackageRef names one version of a package and its .deb.
type PackageRef struct {
	Version string `yaml:"version" json:"version"`
	File    string `yaml:"file,omitempty" json:"file,omitempty"`
	SHA256  string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
}

// HasPackages says the plan installs packages rather than swapping files.
func (p *Plan) HasPackages() bool { return len(p.Packages) > 0 }

// PackageOf is the package that holds the installed file path (nil: none).
func (p *Plan) PackageOf(path string) *Package {
	for i := range p.Packages {
		for _, b := range p.Packages[i].Binaries {
			if b == path {
				return &p.Packages[i]
			}
		}
	}
	return nil
}

// ExtractedPath is where the package's file path (absolute, as installed)
// lies in its extracted folder.
func (k Package) ExtractedPath(path string) string {
	return filepath.Join(k.Extracted, strings.TrimPrefix(path, "/"))
}

func (p *Plan) validatePackages() []string {
	var errs []string
	add := func(field, format string, a ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, a...))
	}
	names := map[string]bool{}
	owned := map[string]bool{}
	for i, k := range p.Packages {
		f := fmt.Sprintf("packages[%d]", i)
		if k.Name == "" {
			add(f+".name", "missing (the package's name, as dpkg -s shows it)")
		}
		if names[k.Name] {
			add(f+".name", "%q is listed twice", k.Name)
		}
		names[k.Name] = true
		if k.Version == "" {
			add(f+".version", "missing")
		}
		if err := checkPath(k.File, "/srv/debs/docker.io_20.10.24_amd64.deb"); err != nil {
			add(f+".file", "%v", err)
		}
		if !hexSHA.MatchString(k.SHA256) {
			add(f+".sha256", "%q is not 64 lowercase hex digits (sha256sum FILE)", k.SHA256)
		}
		if err := checkPath(k.Extracted, "/var/lib/liveswap/packages/docker.io_20.10.24"); err != nil {
			add(f+".extracted", "%v", err)
		}
		if k.Previous.Version == "" {
			add(f+".previous.version", "missing: the version installed now, which a rollback reinstalls")
		}
		if k.Previous.File != "" {
			if err := checkPath(k.Previous.File, "/var/cache/apt/archives/docker.io_20.10.5_amd64.deb"); err != nil {
				add(f+".previous.file", "%v", err)
			}
			if !hexSHA.MatchString(k.Previous.SHA256) {
				add(f+".previous.sha256", "%q is not 64 lowercase hex digits", k.Previous.SHA256)
			}
		}
		for j, b := range k.Binaries {
			owned[b] = true
			found := false
			for _, x := range p.Binaries {
				found = found || x.Path == b
			}
			if !found {
				add(fmt.Sprintf("%s.binaries[%d]", f, j), "%s is not a path of the plan's binaries", b)
			}
		}
	}
	if len(p.Packages) > 0 {
		for i, b := range p.Binaries {
			if !owned[b.Path] {
				add(fmt.Sprintf("binaries[%d].path", i), "%s is in no package of the plan: a plan installs packages or swaps binaries, not both", b.Path)
			}
		}
	}
	return errs
}
