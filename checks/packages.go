package checks

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/liveswap/liveswap/internal/host/dpkg"
	"github.com/liveswap/liveswap/plan"
)

// packageChecks judge a package plan (plan.Packages): the .debs, the
// rollback's packages, the unit files the packages would install, and
// dpkg's state. They skip a plan of binaries.
func packageChecks() []Check {
	return []Check{
		{ID: "packages.files", Description: "each .deb is the planned file (sha256) and says the planned name and version", Func: checkPackageFiles},
		{ID: "packages.previous", Description: "the .deb of each installed version is at hand, so a rollback can reinstall it", Func: checkPackagePrevious},
		{ID: "packages.units", Description: "the unit files the packages install keep the containers on a stop (KillMode=process)", Func: checkPackageUnits},
		{ID: "packages.dpkg", Description: "dpkg is free: no half-installed package (dpkg --audit), no held package, no other apt or dpkg holding its lock", Func: checkPackageDpkg},
	}
}

const noPackages = "the plan installs no packages"

func checkPackageFiles(ctx context.Context, env *Env) Result {
	if !env.Plan.HasPackages() {
		return skip(noPackages)
	}
	var bad []string
	for _, k := range env.Plan.Packages {
		if err := checkDeb(ctx, k.File, k.SHA256, k.Name, k.Version); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		return fail("plan again from the package files you mean to install (liveswap plan --deb FILE)", "%s", strings.Join(bad, "; "))
	}
	return ok("%d packages: %s", len(env.Plan.Packages), packageList(env.Plan.Packages, func(k plan.Package) string { return k.Version }))
}

func checkDeb(ctx context.Context, file, sha, name, version string) error {
	if err := plan.RegularFile(file); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if got, err := FileSHA256(file); err != nil {
		return err
	} else if got != sha {
		return fmt.Errorf("%s has sha256 %s, the plan says %s", file, got, sha)
	}
	d, err := dpkg.Inspect(ctx, file)
	if err != nil {
		return err
	}
	if d.Name != name || d.Version != version {
		return fmt.Errorf("%s is %s %s, the plan says %s %s", file, d.Name, d.Version, name, version)
	}
	return nil
}

func checkPackagePrevious(ctx context.Context, env *Env) Result {
	if !env.Plan.HasPackages() {
		return skip(noPackages)
	}
	if env.Plan.Policy.Rollback == "never" {
		return warn("", "policy.rollback is never: no previous package is needed, and a failed upgrade stays")
	}
	var bad []string
	for _, k := range env.Plan.Packages {
		inst, err := dpkg.Query(ctx, k.Name)
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case inst.Version != k.Previous.Version:
			bad = append(bad, fmt.Sprintf("dpkg records %s %q, the plan was made with %q installed", k.Name, inst.Version, k.Previous.Version))
		case k.Previous.File == "":
			bad = append(bad, fmt.Sprintf("no .deb of %s %s (installed now): not given with --previous-deb, not in apt's cache %s, not in apt's sources", k.Name, k.Previous.Version, dpkg.AptArchives))
		default:
			if err := checkDeb(ctx, k.Previous.File, k.Previous.SHA256, k.Name, k.Previous.Version); err != nil {
				bad = append(bad, err.Error())
			}
		}
	}
	if len(bad) > 0 {
		return fail("a rollback that cannot happen is refused before the upgrade: get the installed version's .deb (your mirror, snapshot.debian.org, `apt-get download NAME=VERSION`) and plan again with --previous-deb FILE",
			"%s", strings.Join(bad, "; "))
	}
	return ok("rollback reinstalls %s", packageList(env.Plan.Packages, func(k plan.Package) string { return k.Previous.Version }))
}

// checkPackageUnits audits the unit files each package would install for
// the units the plan restarts: the live unit passes unit.kill-mode, but
// dpkg replaces its file, and the next restart runs the package's.
func checkPackageUnits(ctx context.Context, env *Env) Result {
	if !env.Plan.HasPackages() {
		return skip(noPackages)
	}
	restarted := append(env.Plan.Units(), env.Plan.Target.Unit)
	var bad, seen []string
	for _, k := range env.Plan.Packages {
		for _, u := range k.Units {
			if !slices.Contains(restarted, u) {
				continue
			}
			file, mode := "", ""
			for _, d := range []string{"lib/systemd/system", "usr/lib/systemd/system"} {
				if f := filepath.Join(k.Extracted, d, u); fileExists(f) {
					file, mode = f, killMode(f)
				}
			}
			if file == "" {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s of %s: KillMode=%s", u, k.Name, mode))
			if mode != "process" && mode != "none" {
				bad = append(bad, fmt.Sprintf("%s %s installs %s with KillMode=%s: its next stop kills every process of the unit's cgroup, the containers' shims included", k.Name, k.Version, u, mode))
			}
		}
	}
	if len(bad) > 0 {
		return fail("add a drop-in with [Service] KillMode=process for the unit (/etc/systemd/system/UNIT.d/), which dpkg leaves alone, or use a package whose unit has it",
			"%s", strings.Join(bad, "; "))
	}
	if len(seen) == 0 {
		return ok("the packages install no unit the plan restarts")
	}
	return ok("%s", strings.Join(seen, "; "))
}

// killMode reads a unit file's KillMode (systemd's default control-group
// when it sets none).
func killMode(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return "unreadable"
	}
	defer f.Close()
	mode, section := "control-group", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			section = l
		}
		if v, found := strings.CutPrefix(l, "KillMode="); found && section == "[Service]" {
			mode = strings.TrimSpace(v)
		}
	}
	return mode
}

func checkPackageDpkg(ctx context.Context, env *Env) Result {
	if !env.Plan.HasPackages() {
		return skip(noPackages)
	}
	var names []string
	for _, k := range env.Plan.Packages {
		names = append(names, k.Name)
	}
	if out, err := dpkg.Audit(ctx); err != nil || strings.TrimSpace(out) != "" {
		return fail("finish or undo the half-done installs first (dpkg --configure -a, or apt-get -f install) and plan again",
			"dpkg --audit reports unfinished packages: %s", firstLine(strings.TrimSpace(out+" "+errString(err))))
	}
	if held, err := dpkg.Held(ctx, names...); err != nil {
		return fail("", "%v", err)
	} else if len(held) > 0 {
		return fail("release the hold if this upgrade is meant (apt-mark unhold "+strings.Join(held, " ")+"), or leave them as they are",
			"held: %s (apt-mark hold: someone chose to keep these versions)", strings.Join(held, ", "))
	}
	if who, err := dpkg.LockHolder(); err != nil {
		return fail("", "%v", err)
	} else if who != "" {
		return fail("wait for the other apt or dpkg (unattended-upgrades, an operator) to finish, then apply", "%s is locked: another package manager runs", who)
	}
	return ok("dpkg --audit clean; none of %s held; no apt or dpkg lock held", strings.Join(names, ", "))
}

func packageList(pkgs []plan.Package, version func(plan.Package) string) string {
	var l []string
	for _, k := range pkgs {
		l = append(l, k.Name+" "+version(k))
	}
	return strings.Join(l, ", ")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
