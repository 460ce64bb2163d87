package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/dpkg"
	"github.com/liveswap/liveswap/plan"
)

// A package plan (plan.Packages) installs .deb files with dpkg instead of
// renaming binaries, so that dpkg's database, `dpkg --verify` and the next
// `apt-get upgrade` agree with what runs. The maintainer scripts would
// restart the units on their own (containerd's postinst restarts
// containerd.service on upgrade); while dpkg runs, liveswap's
// /usr/sbin/policy-rc.d answers 101 ("action forbidden") to every request,
// which deb-systemd-invoke and invoke-rc.d honour, and logs it. The host's
// own policy is kept and journaled before, and put back after dpkg, or by
// the next liveswap run after a crash (dpkg.RestoreLeftover). liveswap then
// restarts the units in order and verifies as for binaries; a rollback
// reinstalls the previous packages the same way.

// PackageReport is one package of a package plan.
type PackageReport struct {
	Name        string `json:"name"`
	FromVersion string `json:"from_version"` // what dpkg recorded before
	ToVersion   string `json:"to_version"`   // what dpkg records after
	// Denied are the requests of the maintainer scripts that policy-rc.d
	// refused ("containerd.service restart"), in order, for all packages
	// of the dpkg run.
	Denied []string `json:"denied,omitempty"`
}

// policyPath is the policy-rc.d a package run installs (tests change it).
var policyPath = dpkg.PolicyPath

// packagePhases are apply's steps for a package plan: the same as for
// binaries, with the .debs staged and installed by dpkg instead of files
// copied and renamed.
func (r *run) packagePhases() []Phase {
	ph := r.binaryPhases()
	for i := range ph {
		switch ph[i].Name {
		case "stage":
			ph[i].Desc = "check each target is the file its unit runs, then copy each .deb (and the previous version's, for a rollback) into the state folder and verify sha256"
			ph[i].Run = noDetail(r.stagePackages)
		case "recheck":
			ph[i].Desc = "check each staged .deb again: a regular file of root's with the planned sha256"
			ph[i].Run = r.recheckPackages
		case "swap":
			ph[i] = Phase{Name: "install", Desc: "install the packages with dpkg, maintainer scripts kept from starting, stopping or restarting units (policy-rc.d, journaled and restored)",
				ChangesHost: true, JournalSwaps: true, Resume: RunAgain, Run: r.installPackages}
		case "commit":
			ph[i].Desc = "remove the staged new packages (the previous ones stay for `liveswap rollback`)"
			ph[i].Run = noDetail(r.commitPackages)
		}
	}
	return ph
}

// reinstallPhase is a package plan's rollback: dpkg installs the previous
// packages, then the units are restarted and checked as for binaries.
func (r *run) reinstallPhase() Phase {
	return Phase{Name: "rollback", Desc: fmt.Sprintf("reinstall the previous version of %d packages with dpkg, restart their units and check each component again", len(r.plan.Packages)),
		ChangesHost: true, Undo: true, Run: r.reinstall}
}

// debCopy is where a run keeps its copy of a package's .deb: dpkg installs
// the copy liveswap checked, not a file someone could change meanwhile.
func (r *run) debCopy(name, version, arch string) string {
	return dpkg.ArchiveFile(filepath.Join(r.opts.StateDir, "run-"+r.report.Run+"-debs"), name, version, arch)
}

func (r *run) stagePackages(ctx context.Context) error {
	r.swaps = nil
	sums, err := r.checkTargets(ctx)
	if err != nil {
		return err
	}
	for i, b := range r.plan.Binaries {
		own := r.ownVersion(ctx, b)
		r.swaps = append(r.swaps, Swap{Path: b.Path, FromVersion: own, BackupSHA256: sums[i], NewSHA256: b.SHA256})
	}
	if err := os.MkdirAll(filepath.Dir(r.debCopy("x", "0", "all")), 0o700); err != nil {
		return err
	}
	for _, k := range r.plan.Packages {
		inst, err := dpkg.Query(ctx, k.Name)
		if err != nil {
			return err
		}
		if inst.Version != k.Previous.Version {
			return fmt.Errorf("package %s: dpkg records version %q, the plan was made with %q installed: plan again (nothing was touched)", k.Name, inst.Version, k.Previous.Version)
		}
		if k.Previous.File == "" && r.plan.Policy.Rollback != "never" {
			return fmt.Errorf("package %s: no .deb of the installed version %s: a rollback could not reinstall it; plan with --previous-deb FILE (nothing was touched)", k.Name, k.Previous.Version)
		}
		if err := r.stageDeb(ctx, k.File, r.debCopy(k.Name, k.Version, k.Arch), k.SHA256); err != nil {
			return err
		}
		if k.Previous.File != "" {
			if err := r.stageDeb(ctx, k.Previous.File, r.debCopy(k.Name, k.Previous.Version, k.Arch), k.Previous.SHA256); err != nil {
				return err
			}
		}
		r.report.Packages = append(r.report.Packages, PackageReport{Name: k.Name, FromVersion: inst.Version, ToVersion: k.Version})
	}
	r.report.Components = r.componentReports(func(i int, _ plan.Binary) string { return r.swaps[i].FromVersion },
		func(_ int, b plan.Binary) string { return b.ExpectedVersion })
	return nil
}

func (r *run) stageDeb(ctx context.Context, src, dst, sha string) error {
	if err := r.opts.Files.Remove(dst); err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("package %s: %w", src, err)
	}
	return r.opts.Files.Stage(ctx, src, dst, sha, r.opts.Progress.Bytes("staging "+filepath.Base(src), st.Size()))
}

// recheckPackages checks, right before dpkg runs, that each staged .deb
// is still root's and the planned file.
func (r *run) recheckPackages(ctx context.Context) (string, error) {
	var errs []error
	for _, k := range r.plan.Packages {
		if err := checkDeb(r.debCopy(k.Name, k.Version, k.Arch), k.SHA256); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d packages checked", len(r.plan.Packages)), nil
}

func checkDeb(path, want string) error {
	if err := plan.RegularFile(path); err != nil {
		return fmt.Errorf("%w: staged package %s: %v", ErrUntrusted, path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: staged package %s is writable by others (%v)", ErrUntrusted, path, st.Mode().Perm())
	}
	got, err := checks.FileSHA256(path)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: staged package %s has sha256 %s, want %s: it changed after it was staged", ErrUntrusted, path, got, want)
	}
	return nil
}

// installPackages installs the plan's packages.
func (r *run) installPackages(ctx context.Context) (string, error) {
	var debs []string
	for _, k := range r.plan.Packages {
		debs = append(debs, r.debCopy(k.Name, k.Version, k.Arch))
	}
	denied, err := r.dpkgInstall(ctx, "install", debs)
	if err != nil {
		return "", err
	}
	for i := range r.report.Packages {
		r.report.Packages[i].Denied = denied
	}
	return fmt.Sprintf("%s; maintainer scripts' requests denied: %s", r.packageVersions(ctx, func(k plan.Package) string { return k.Version }), noneIfEmpty(denied)), nil
}

// dpkgInstall runs dpkg --install of debs with liveswap's policy-rc.d in
// place (its log named after what: install, rollback), journaled before dpkg starts and after it is restored; it then
// has the manager re-read the unit files the packages installed. It
// returns the requests the policy denied.
func (r *run) dpkgInstall(ctx context.Context, what string, debs []string) ([]string, error) {
	ctx = context.WithoutCancel(ctx) // dpkg stopped half-way leaves half-configured packages
	log := filepath.Join(r.opts.StateDir, "run-"+r.report.Run+"-policy-rc.d-"+what+".log")
	pol, err := dpkg.DenyActions(policyPath, r.opts.StateDir, r.report.Run, log)
	if err != nil {
		return nil, err
	}
	note := "installed at " + pol.Path + "; the host had none"
	if pol.Backup != "" {
		note = "installed at " + pol.Path + "; the host's own kept at " + pol.Backup
	}
	if err := r.journal.Append(Entry{Run: r.report.Run, Phase: "policy-rc.d", Status: "info", PolicyRCD: note}); err != nil {
		return nil, errors.Join(err, pol.Restore())
	}
	r.swapped = true
	out, ierr := dpkg.Install(ctx, nil, debs...)
	rerr := pol.Restore()
	if rerr == nil {
		rerr = r.journal.Append(Entry{Run: r.report.Run, Phase: "policy-rc.d", Status: "info", PolicyRCD: "restored"})
	}
	denied := pol.Denied()
	r.logf("[dpkg] maintainer scripts' requests denied by policy-rc.d: %s", noneIfEmpty(denied))
	if ierr != nil {
		return denied, errors.Join(fmt.Errorf("dpkg --install: %w\n%s", ierr, tail(out, 15)), rerr)
	}
	if rerr != nil {
		return denied, rerr
	}
	if err := r.connect(ctx); err != nil {
		return denied, err
	}
	return denied, r.sd.DaemonReload(ctx)
}

// packageVersions checks that dpkg records each package at the version
// want gives, installed and configured, and says so.
func (r *run) packageVersions(ctx context.Context, want func(plan.Package) string) string {
	var got []string
	for _, k := range r.plan.Packages {
		inst, err := dpkg.Query(ctx, k.Name)
		if err != nil {
			got = append(got, k.Name+" ?: "+err.Error())
			continue
		}
		got = append(got, fmt.Sprintf("%s %s (%s)", k.Name, inst.Version, inst.Status))
		for i := range r.report.Packages {
			if r.report.Packages[i].Name == k.Name {
				r.report.Packages[i].ToVersion = inst.Version
			}
		}
	}
	return "dpkg records " + strings.Join(got, ", ")
}

func (r *run) commitPackages(ctx context.Context) error {
	for _, k := range r.plan.Packages {
		r.opts.Files.Remove(r.debCopy(k.Name, k.Version, k.Arch))
	}
	return nil
}

// reinstall is a package plan's rollback.
func (r *run) reinstall(ctx context.Context) (string, error) {
	ctx = context.WithoutCancel(ctx) // an interrupted liveswap must still finish a rollback
	var debs []string
	for _, k := range r.plan.Packages {
		if k.Previous.File == "" {
			return "", fmt.Errorf("package %s: the plan has no .deb of the previous version %s: install it by hand (apt-get install %s=%s) and restart the units", k.Name, k.Previous.Version, k.Name, k.Previous.Version)
		}
		f := r.debCopy(k.Name, k.Previous.Version, k.Arch)
		if err := checkDeb(f, k.Previous.SHA256); err != nil {
			return "", err
		}
		debs = append(debs, f)
	}
	denied, err := r.dpkgInstall(ctx, "rollback", debs)
	if err != nil {
		return "", err
	}
	inst := r.packageVersions(ctx, func(k plan.Package) string { return k.Previous.Version })
	for i, k := range r.plan.Packages {
		if i < len(r.report.Packages) {
			r.report.Packages[i].FromVersion, r.report.Packages[i].Denied = k.Version, denied
		}
		if got, err := dpkg.Query(ctx, k.Name); err != nil || got.Version != k.Previous.Version || !got.OK() {
			return "", fmt.Errorf("package %s: after reinstalling, %s, want %s installed", k.Name, inst, k.Previous.Version)
		}
	}
	want := r.restoreVersion
	if want == "" {
		want = r.report.FromVersion
	}
	r.reverseComponents()
	if err := r.restartAndCheck(ctx, want); err != nil {
		return "", err
	}
	r.report.ToVersion = want
	return fmt.Sprintf("reinstalled %d packages (%s); denied: %s; %s answers; %d containers compared, %d probes read",
		len(debs), inst, noneIfEmpty(denied), orUnknown(want), len(r.report.Containers), len(r.report.Probes)), nil
}

func noneIfEmpty(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// restoreLeftoverPolicy puts the host's policy-rc.d back when a run that
// crashed while dpkg ran left liveswap's in place (its marker names where
// the host's was kept), and journals it. Every run does this once it
// holds the locks.
func (r *run) restoreLeftoverPolicy() error {
	run, err := dpkg.RestoreLeftover(policyPath)
	if err != nil {
		return fmt.Errorf("%s of an interrupted run: %w", policyPath, err)
	}
	if run == "" {
		return nil
	}
	r.logf("[lock] restored the host's %s, which run %s left denying service actions", policyPath, run)
	return r.journal.Append(Entry{Run: r.report.Run, Phase: "policy-rc.d", Status: "info", PolicyRCD: "restored what run " + run + " left"})
}
