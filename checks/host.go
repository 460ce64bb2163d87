package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/host/state"
	"github.com/liveswap/liveswap/plan"
)

// hostChecks look for hazards on the host around the upgrade.
func hostChecks() []Check {
	return []Check{
		{ID: "host.self-in-container", Description: "liveswap does not run inside a container of the daemon it upgrades", Func: checkSelfInContainer},
		{ID: "host.package-automation", Description: "needrestart and unattended-upgrades will not restart the daemon behind the operator's back", Func: checkPackageAutomation},
		{ID: "host.lock", Description: "no other liveswap upgrade holds the host's upgrade lock", Func: checkLock},
		{ID: "host.journal", Description: "the journal records no interrupted upgrade", Func: checkJournal},
	}
}

// ctrProc is what the self-in-container test needs of a container.
type ctrProc struct {
	Name, ID string
	Pid      int
}

// selfInside decides whether this process (procfs's "self") runs in one of
// ctrs: its cgroup or its mounts name the container (dockerd mounts
// <data-root>/containers/ID/hostname, resolv.conf and hosts into it), its
// hostname is the container's short ID, it lies in the container's cgroup,
// or it shares the container's PID namespace while the daemon does not.
// Inside a container with private PID and cgroup namespaces only the mounts
// and the hostname tell. daemonPID 0 means unknown. It returns the
// container and the reason.
func selfInside(ctrs []ctrProc, daemonPID int) (string, string) {
	selfCG := procfs.Cgroup(0)
	selfNS := nsOf(0)
	mounts, _ := procfs.ReadFile(0, "mountinfo")
	hostname := procfs.Hostname()
	daemonCG, daemonNS := "", ""
	if daemonPID > 0 {
		daemonCG, daemonNS = procfs.Cgroup(daemonPID), nsOf(daemonPID)
	}
	selfCGs := procfs.Cgroups(0)
	for _, c := range ctrs {
		for _, cg := range selfCGs {
			if len(c.ID) >= 12 && strings.Contains(cg, c.ID) {
				return c.Name, fmt.Sprintf("liveswap's cgroup %s names container %s", cg, shortID(c.ID))
			}
		}
		if len(c.ID) == 64 && bytes.Contains(mounts, []byte("/"+c.ID+"/")) {
			return c.Name, fmt.Sprintf("liveswap's mounts come from container %s's folder", shortID(c.ID))
		}
		if len(c.ID) == 64 && hostname == c.ID[:12] {
			return c.Name, fmt.Sprintf("liveswap's hostname is container %s's ID", hostname)
		}
		if c.Pid <= 0 {
			continue
		}
		cg := procfs.Cgroup(c.Pid)
		// A container cgroup that also holds the daemon (or is the root)
		// is not the container's own: no evidence.
		own := cg != "" && cg != "/" && !within(daemonCG, cg)
		if own && (selfCG == cg || within(selfCG, cg)) {
			return c.Name, fmt.Sprintf("liveswap runs in the container's cgroup %s", cg)
		}
		if ns := nsOf(c.Pid); ns != "" && ns == selfNS && daemonNS != "" && ns != daemonNS {
			return c.Name, fmt.Sprintf("liveswap shares the container's PID namespace %s, the daemon does not", ns)
		}
	}
	return "", ""
}

// within reports whether cgroup path p lies inside (or is) dir.
func within(p, dir string) bool {
	if p == "" || dir == "" {
		return false
	}
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// nsOf returns the PID namespace link of pid (0 for self), "" if unreadable.
func nsOf(pid int) string {
	l, _ := procfs.Link(pid, "ns/pid")
	return l
}

func checkSelfInContainer(ctx context.Context, env *Env) Result {
	ctrs, err := env.Containers(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	daemonPID := 0
	if u, err := env.LoadedUnit(ctx); err == nil {
		daemonPID = u.MainPID
	}
	var procs []ctrProc
	for _, c := range ctrs {
		procs = append(procs, ctrProc{Name: containerName(c), ID: c.ID, Pid: pidOf(c)})
	}
	if name, why := selfInside(procs, daemonPID); name != "" {
		return fail("run liveswap on the host (or in a container of another daemon): the upgrade stops the daemon this container belongs to and would cut liveswap off halfway",
			"liveswap runs inside container %s of the daemon it upgrades: %s", name, why)
	}
	if daemonPID > 0 {
		if !procfs.Exists(daemonPID) {
			return warn("run liveswap in the host's PID namespace (on the host, or with --pid host)",
				"the daemon's main process (pid %d) is not visible here: liveswap runs in another PID namespace and cannot tell whether it is inside one of the daemon's containers", daemonPID)
		}
	}
	return ok("liveswap runs outside the daemon's %d container(s)", len(ctrs))
}

// Paths of the package automation; tests point them elsewhere.
var (
	needrestartBin  = "/usr/sbin/needrestart"
	needrestartConf = "/etc/needrestart"
	unattendedBin   = "/usr/bin/unattended-upgrade"
	aptConfDir      = "/etc/apt/apt.conf.d"
	dpkgInfoDir     = "/var/lib/dpkg/info"
)

func checkPackageAutomation(_ context.Context, env *Env) Result {
	var warnings, remedies, notes []string
	unit := env.Plan.Target.Unit
	switch {
	case !exists(needrestartBin):
		notes = append(notes, "needrestart not installed")
	case env.Plan.Target.Systemd == "user":
		notes = append(notes, "needrestart restarts system services only")
	default:
		if re := needrestartExcludes(needrestartConf, unit); re != "" {
			notes = append(notes, fmt.Sprintf("needrestart leaves %s alone (%s)", unit, re))
		} else {
			warnings = append(warnings, fmt.Sprintf("needrestart may restart %s after a library upgrade", unit))
			remedies = append(remedies, fmt.Sprintf("echo '$nrconf{override_rc}{qr(^%s$)} = 0;' > %s/conf.d/liveswap.conf",
				regexp.QuoteMeta(unit), needrestartConf))
		}
	}
	if exists(unattendedBin) && unattendedEnabled(aptConfDir) && len(env.Plan.Binaries) > 0 {
		pkgs := owningPackages(dpkgInfoDir, env.Plan.Binaries[0].Path)
		black := unattendedBlacklist(aptConfDir)
		for _, p := range pkgs {
			if !blacklisted(p, black) {
				warnings = append(warnings, fmt.Sprintf("unattended-upgrades may upgrade package %s (owner of %s), whose scripts restart the daemon", p, env.Plan.Binaries[0].Path))
				remedies = append(remedies, fmt.Sprintf(`echo 'Unattended-Upgrade::Package-Blacklist { "%s"; };' > %s/51liveswap`, regexp.QuoteMeta(p), aptConfDir))
			}
		}
		if len(pkgs) == 0 {
			notes = append(notes, "unattended-upgrades enabled; no package owns "+env.Plan.Binaries[0].Path)
		}
	} else {
		notes = append(notes, "unattended-upgrades not enabled")
	}
	if len(warnings) > 0 {
		return Result{Status: Warn, Message: strings.Join(warnings, "; "), Remedy: strings.Join(remedies, "; ")}
	}
	return ok("%s", strings.Join(notes, "; "))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// nrPattern finds the service regexes needrestart is told to leave alone:
// `qr(RE) => 0` in override_rc, `$nrconf{override_rc}{qr(RE)} = 0;`, and
// every qr(RE) inside blacklist_rc.
var (
	nrOverride = regexp.MustCompile(`qr\((.+?)\)\}?\s*(?:=>|=)\s*0\b`)
	nrQR       = regexp.MustCompile(`qr\((.+?)\)`)
)

// needrestartExcludes returns the pattern that keeps needrestart from
// restarting unit, "" when none does.
func needrestartExcludes(dir, unit string) string {
	files := []string{filepath.Join(dir, "needrestart.conf")}
	more, _ := filepath.Glob(filepath.Join(dir, "conf.d", "*.conf"))
	files = append(files, more...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		inBlacklist := false
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "#") {
				continue
			}
			if strings.Contains(line, "blacklist_rc") {
				inBlacklist = true
			}
			var pats []string
			for _, m := range nrOverride.FindAllStringSubmatch(line, -1) {
				pats = append(pats, m[1])
			}
			if inBlacklist {
				for _, m := range nrQR.FindAllStringSubmatch(line, -1) {
					pats = append(pats, m[1])
				}
			}
			if strings.Contains(line, "]") {
				inBlacklist = false
			}
			for _, p := range pats {
				re, err := regexp.Compile(p)
				if err == nil && re.MatchString(unit) {
					return fmt.Sprintf("qr(%s) in %s", p, f)
				}
			}
		}
	}
	return ""
}

var aptPeriodic = regexp.MustCompile(`APT::Periodic::Unattended-Upgrade\s+"([^"]*)"`)

// unattendedEnabled reads APT::Periodic::Unattended-Upgrade; the last file
// in apt's order wins.
func unattendedEnabled(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	on := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, m := range aptPeriodic.FindAllStringSubmatch(stripAptComments(string(b)), -1) {
			on = m[1] != "0" && m[1] != "" && m[1] != "false"
		}
	}
	return on
}

var aptBlacklist = regexp.MustCompile(`(?s)Unattended-Upgrade::Package-Blacklist\s*\{(.*?)\}`)
var quoted = regexp.MustCompile(`"([^"]+)"`)

// unattendedBlacklist collects the Package-Blacklist entries of every file.
func unattendedBlacklist(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, m := range aptBlacklist.FindAllStringSubmatch(stripAptComments(string(b)), -1) {
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				out = append(out, q[1])
			}
		}
	}
	return out
}

func stripAptComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "//") || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// blacklisted: unattended-upgrades treats entries as regular expressions
// matched at the start of the package name.
func blacklisted(pkg string, entries []string) bool {
	for _, e := range entries {
		if e == pkg {
			return true
		}
		if re, err := regexp.Compile("^(?:" + e + ")"); err == nil && re.MatchString(pkg) {
			return true
		}
	}
	return false
}

// owningPackages finds the dpkg packages that list path.
func owningPackages(infoDir, path string) []string {
	lists, _ := filepath.Glob(filepath.Join(infoDir, "*.list"))
	var out []string
	for _, l := range lists {
		f, err := os.Open(l)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() == path {
				name := strings.TrimSuffix(filepath.Base(l), ".list")
				name, _, _ = strings.Cut(name, ":") // pkg:arch
				out = append(out, name)
				break
			}
		}
		f.Close()
	}
	return out
}

// LockTargets are what a run of p changes and holds exclusively, whatever
// its state folder: each unit it restarts and each file it replaces.
func LockTargets(p *plan.Plan) []state.Target {
	var ts []state.Target
	for _, u := range append([]string{p.Target.Unit}, p.Units()...) {
		if u != "" {
			ts = append(ts, state.Target{Kind: "unit", ID: p.Target.Systemd + " " + u})
		}
	}
	for _, b := range p.Binaries {
		if b.Path != "" {
			ts = append(ts, state.Target{Kind: "file", ID: filepath.Clean(b.Path)})
		}
	}
	return ts
}

func checkLock(_ context.Context, env *Env) Result {
	path := state.LockPath(env.Options.StateDir)
	held, by, err := state.Holder(env.Options.StateDir)
	switch {
	case err != nil:
		return fail("check the state folder (--state-dir)", "%s: %v", path, err)
	case held:
		return fail("wait for the other upgrade to end (liveswap status shows it); one upgrade per host",
			"another liveswap upgrade is running: %s is locked by %s", path, by)
	}
	held, what, by, err := state.TargetHolder(env.Options.LockDir, LockTargets(env.Plan))
	switch {
	case err != nil:
		return fail("check the lock folder ("+state.LockDir(env.Options.LockDir)+")", "%v", err)
	case held:
		return fail("wait for the other upgrade to end (`liveswap status --state-dir "+by.StateDir+"` shows it); one upgrade per daemon",
			"another liveswap upgrade is running: %s is locked by %s", what, by)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return ok("no upgrade in progress (%s absent)", path)
	}
	return ok("no upgrade in progress (%s not held)", path)
}

// journalEntry is the part of upgrade's journal lines (journal.jsonl, one
// JSON object per phase transition) this check reads.
type journalEntry struct {
	Run    string `json:"run"`
	Phase  string `json:"phase"`
	Status string `json:"status"`
	Result string `json:"result"`
}

// JournalName is the orchestrator's journal file under the state dir.
const JournalName = "journal.jsonl"

// lastRun returns the last run of the journal in the state folder dir and
// whether it ended; the folder is checked as the upgrade checks it.
func lastRun(dir string) (run, phase string, ended bool, err error) {
	d, err := state.Open(dir, false)
	if err != nil {
		return "", "", false, err
	}
	defer d.Close()
	f, err := d.OpenFile(JournalName, os.O_RDONLY, 0)
	if err != nil {
		return "", "", false, err
	}
	defer f.Close()
	err = state.Lines(f, f.Name(), state.MaxLine, func(_ int, line []byte) error {
		var e journalEntry
		if json.Unmarshal(line, &e) != nil || e.Run == "" {
			return nil // a torn last line from a crash mid-write
		}
		if e.Run != run || e.Status == "begin" {
			run, ended = e.Run, false
		}
		if e.Status == "end" {
			ended = true
		} else {
			phase = e.Phase + " " + e.Status
		}
		return nil
	})
	return run, phase, ended, err
}

func checkJournal(_ context.Context, env *Env) Result {
	path := filepath.Join(env.Options.StateDir, JournalName)
	run, phase, ended, err := lastRun(env.Options.StateDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ok("no journal: no earlier upgrade on this host")
	case err != nil:
		return fail("check the state folder (--state-dir)", "reading %s: %v", path, err)
	case run == "" || ended:
		return ok("the last upgrade recorded in %s ended", path)
	}
	return fail("see `liveswap status`, then finish it with `liveswap apply --resume` or undo it with `liveswap rollback`",
		"upgrade %s did not end: it stopped at %s (%s)", run, phase, path)
}
