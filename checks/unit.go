package checks

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/host/systemd"
)

// unitChecks audit the daemon's systemd unit over D-Bus.
func unitChecks() []Check {
	return []Check{
		{ID: "unit.loaded", Description: "the daemon's unit is known to systemd and loaded", Func: checkUnitLoaded},
		{ID: "unit.active", Description: "the daemon's unit is active (running)", Func: checkUnitActive},
		{ID: "unit.kill-mode", Description: "stopping the unit leaves the containers running (KillMode, or containers in their own scopes)", Func: checkKillMode},
		{ID: "unit.type", Description: "Type=notify, so a restart job ends when the daemon is ready", Func: checkUnitType},
		{ID: "unit.exec-reload", Description: "ExecReload is set, so settings such as live-restore can be applied without a restart", Func: checkExecReload},
		{ID: "unit.restart", Description: "Restart= brings the daemon back if it dies", Func: checkRestart},
		{ID: "unit.timeout-stop", Description: "TimeoutStopSec gives the daemon time to stop cleanly, and is bounded", Func: checkTimeoutStop},
		{ID: "unit.drop-ins", Description: "drop-ins that override the unit's settings are shown", Func: checkDropIns},
	}
}

const remedyUnitName = "name the daemon's unit with --unit (and --systemd user for a user manager)"

func checkUnitLoaded(ctx context.Context, env *Env) Result {
	u, err := env.Unit(ctx)
	if err != nil {
		return fail(remedyUnitName, "%v", err)
	}
	if u.LoadState != "loaded" {
		return fail(remedyUnitName, "unit %s is %s in the %s manager", u.Name, u.LoadState, env.Plan.Target.Systemd)
	}
	return ok("%s loaded from %s", u.Name, u.FragmentPath)
}

func checkUnitActive(ctx context.Context, env *Env) Result {
	u, err := env.LoadedUnit(ctx)
	if err != nil {
		return env.Blocked("unit.loaded", err)
	}
	if u.ActiveState != "active" {
		return fail(fmt.Sprintf("start it first (systemctl start %s); an inactive daemon has no containers to keep and needs no live upgrade", u.Name),
			"%s is %s (%s)", u.Name, u.ActiveState, u.SubState)
	}
	return ok("%s is %s (%s), main PID %d", u.Name, u.ActiveState, u.SubState, u.MainPID)
}

// KillMode verdicts. Docker documents KillMode=process in its own unit:
// with control-group (systemd's default) or mixed, a stop kills every
// process of the unit's cgroup, containerd shims and containers included,
// whatever live-restore says.
func checkKillMode(ctx context.Context, env *Env) Result {
	u, err := env.LoadedUnit(ctx)
	if err != nil {
		return env.Blocked("unit.loaded", err)
	}
	dropIn := overriddenBy(u, "KillMode")
	where := u.FragmentPath
	if dropIn != "" {
		where = dropIn
	}
	remedy := fmt.Sprintf("set KillMode=process in [Service] of %s (or a drop-in: systemctl edit %s), then systemctl daemon-reload; no restart is needed for it to apply", where, u.Name)
	switch u.KillMode {
	case "process":
		return ok("KillMode=process: a stop signals only the daemon's main process")
	case "none":
		return warn("set KillMode=process ("+where+"): KillMode=none is deprecated and leaves stray processes behind",
			"KillMode=none: containers survive a stop, but systemd leaves every other process of the unit running too")
	}
	// control-group or mixed: acceptable only for a runtime that moves its
	// containers out of the unit's cgroup, as liveswapd does; verify it.
	if !env.Plan.Spec().ScopedContainers {
		return fail(remedy, "KillMode=%s: stopping %s kills every process in its cgroup, containers included (live-restore does not prevent it)", u.KillMode, u.Name)
	}
	inUnit, outside, err := containersInUnit(ctx, env, u)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	if len(inUnit) > 0 {
		r := fail(remedy+"; or restart liveswapd with a version that places containers in scopes",
			"KillMode=%s and %d container process(es) are in %s's cgroup: a stop kills them", u.KillMode, len(inUnit), u.Name)
		r.Details = inUnit
		return r
	}
	if len(outside) == 0 {
		return ok("KillMode=%s: no running containers; liveswapd places each container in its own scope unit", u.KillMode)
	}
	r := ok("KillMode=%s is safe: every container runs in its own scope, outside %s's cgroup", u.KillMode, u.Name)
	r.Details = outside
	return r
}

// containersInUnit places each running container's process and its parent
// (the shim) in a unit: inUnit lists those inside the target unit.
func containersInUnit(ctx context.Context, env *Env, u *systemd.Unit) (inUnit, outside []string, err error) {
	ctrs, err := env.Containers(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, err := env.Manager(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range ctrs {
		if c.State == nil || c.State.Pid <= 0 {
			continue
		}
		pids := []int{c.State.Pid}
		if pp := procfs.PPID(c.State.Pid); pp > 1 {
			pids = append(pids, pp)
		}
		for i, pid := range pids {
			role := "process"
			if i == 1 {
				role = "shim"
			}
			unit := unitOfPID(ctx, m, pid)
			line := fmt.Sprintf("%s %s pid %d in %s", containerName(c), role, pid, unit)
			if unit == u.Name {
				inUnit = append(inUnit, line)
			} else {
				outside = append(outside, line)
			}
		}
	}
	return inUnit, outside, nil
}

// unitOfPID asks the manager which unit a process belongs to, falling back
// to the last component of its cgroup path.
func unitOfPID(ctx context.Context, m *systemd.Manager, pid int) string {
	if name, err := m.UnitOfPID(ctx, pid); err == nil && name != "" {
		return name
	}
	cg := procfs.Cgroup(pid)
	if cg == "" {
		return "?"
	}
	return filepath.Base(cg)
}

func checkUnitType(ctx context.Context, env *Env) Result {
	u, err := env.LoadedUnit(ctx)
	if err != nil {
		return env.Blocked("unit.loaded", err)
	}
	if u.Type == "notify" || u.Type == "notify-reload" {
		return ok("Type=%s: the start job ends when the daemon says it is ready", u.Type)
	}
	return warn(fmt.Sprintf("set Type=notify in %s (dockerd and liveswapd send READY=1)", u.FragmentPath),
		"Type=%s: systemd reports the restart done before the daemon is ready; liveswap then waits on the API alone", u.Type)
}

func checkExecReload(ctx context.Context, env *Env) Result {
	u, err := env.LoadedUnit(ctx)
	if err != nil {
		return env.Blocked("unit.loaded", err)
	}
	if len(u.ExecReload) == 0 {
		return warn(fmt.Sprintf("add ExecReload=/bin/kill -s HUP $MAINPID to %s", u.FragmentPath),
			"no ExecReload: reloadable settings (live-restore among them) can only be applied by a restart")
	}
	return ok("ExecReload=%s", u.ExecReload[0])
}

func checkRestart(ctx context.Context, env *Env) Result {
	u, err := env.LoadedUnit(ctx)
	if err != nil {
		return env.Blocked("unit.loaded", err)
	}
	if u.Restart == "" || u.Restart == "no" {
		return warn(fmt.Sprintf("set Restart=always (as Docker's own unit does) in %s", u.FragmentPath),
			"Restart=no: if the new daemon crashes after the upgrade, it stays down until someone starts it")
	}
	return ok("Restart=%s", u.Restart)
}

// minStopTimeout is the least time a daemon needs to save its state on
// SIGTERM before systemd sends SIGKILL.
const minStopTimeout = 10

func checkTimeoutStop(ctx context.Context, env *Env) Result {
	u, err := env.LoadedUnit(ctx)
	if err != nil {
		return env.Blocked("unit.loaded", err)
	}
	t := u.TimeoutStopSec
	switch {
	case t <= 0 || t >= math.MaxUint64/1e6 || math.IsInf(t, 1):
		return warn(fmt.Sprintf("set TimeoutStopSec=%.0f (the plan's stop timeout) in %s", env.Plan.Policy.StopTimeout.D().Seconds(), u.FragmentPath),
			"TimeoutStopSec=infinity: a daemon that hangs on stop blocks the restart job forever")
	case t < minStopTimeout:
		return warn(fmt.Sprintf("set TimeoutStopSec=30 in %s", u.FragmentPath),
			"TimeoutStopSec=%gs: systemd SIGKILLs the daemon if it needs longer to save its state", t)
	}
	return ok("TimeoutStopSec=%gs", t)
}

// auditedKeys are the [Service] settings a drop-in may change under the
// checks' feet.
var auditedKeys = []string{"KillMode", "Type", "ExecStart", "ExecReload", "Restart", "TimeoutStopSec", "TimeoutSec", "Delegate"}

func checkDropIns(ctx context.Context, env *Env) Result {
	u, err := env.LoadedUnit(ctx)
	if err != nil {
		return env.Blocked("unit.loaded", err)
	}
	if len(u.DropInPaths) == 0 {
		return ok("no drop-ins: %s alone defines the unit", u.FragmentPath)
	}
	var details []string
	for _, p := range u.DropInPaths {
		sets := dropInSettings(p)
		if len(sets) == 0 {
			details = append(details, p)
			continue
		}
		details = append(details, p+": "+strings.Join(sets, ", "))
	}
	r := ok("%d drop-in(s) override %s; the checks above use the merged values", len(u.DropInPaths), u.FragmentPath)
	r.Details = details
	return r
}

// dropInSettings lists the audited KEY=VALUE lines a drop-in file sets.
func dropInSettings(path string) []string {
	sets, err := systemd.ReadSettings(path)
	if err != nil {
		return []string{"unreadable: " + err.Error()}
	}
	var out []string
	for _, s := range sets {
		if slices.Contains(auditedKeys, s.Key) {
			out = append(out, s.Key+"="+s.Value)
		}
	}
	return out
}

// overriddenBy names the last drop-in that sets key, "" when none does.
func overriddenBy(u *systemd.Unit, key string) string {
	last := ""
	for _, p := range u.DropInPaths {
		for _, s := range dropInSettings(p) {
			if strings.HasPrefix(s, key+"=") {
				last = p
			}
		}
	}
	return last
}
