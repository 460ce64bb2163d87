// Package liverestore turns live restore on for a running dockerd or
// liveswapd without restarting it: it edits daemon.json as text (every
// other key, its order and formatting kept), validates the result with the
// rules of the daemon that reads it, applies it with a systemd reload
// (SIGHUP: both daemons apply live-restore then), confirms through the
// Engine API that live restore is on and that no container was restarted,
// and puts the old file back if any step fails. It also audits the unit and
// says what else must change before an upgrade is safe.
package liverestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// Results of a run (their exit codes are upgrade.Result's).
const (
	Enabled        = upgrade.Enabled        // file written, daemon reloaded, live restore confirmed on
	AlreadyEnabled = upgrade.AlreadyEnabled // the running daemon has it on; nothing touched
	Planned        = upgrade.Planned        // dry run: nothing touched
	Refused        = upgrade.Refused        // a check or the validation failed; nothing touched
	Restored       = upgrade.Restored       // a step failed; the old file is back and reloaded
	Failed         = upgrade.Failed         // a container was interrupted or the restore failed
)

// Result is the outcome of Enable. Its JSON field names are a stable
// interface (pinned by a test).
type Result struct {
	Result            upgrade.Result        `json:"result"`
	Target            string                `json:"target"`
	Unit              string                `json:"unit"`
	DaemonConfig      string                `json:"daemon_config"`
	DaemonVersion     string                `json:"daemon_version"`
	LiveRestoreBefore bool                  `json:"live_restore_before"`
	LiveRestoreAfter  bool                  `json:"live_restore_after"`
	FileChanged       bool                  `json:"file_changed"`
	Backup            string                `json:"backup,omitempty"`
	Diff              string                `json:"diff,omitempty"`
	Rules             string                `json:"rules,omitempty"`
	Findings          []daemonjson.Finding  `json:"findings"`
	Steps             []upgrade.PhaseReport `json:"steps"`
	Containers        []upgrade.Change      `json:"containers"`
	Probes            []upgrade.ProbeReport `json:"probes"`
	Audit             []AuditItem           `json:"audit"`
	BeforeUpgrade     []string              `json:"before_upgrade"`
	Error             string                `json:"error,omitempty"`
	Remedy            string                `json:"remedy,omitempty"`
}

// AuditItem is one pre-flight check's verdict on the daemon and its unit.
type AuditItem struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Remedy  string   `json:"remedy,omitempty"`
	Details []string `json:"details,omitempty"`
}

// Options tune a run.
type Options struct {
	DryRun bool
	// Manager reuses the caller's systemd connection; nil connects with
	// Connect (default systemd.Connect).
	Manager *systemd.Manager
	Connect func(ctx context.Context, scope systemd.Scope) (*systemd.Manager, error)
	// Timeout bounds the wait for the daemon to report live restore on
	// after the reload; default 30s.
	Timeout time.Duration
	Log     io.Writer        // one line per step; nil for none
	Now     func() time.Time // names the backup; default time.Now
}

// auditIDs are the pre-flight checks that concern the running daemon and
// its unit (not the new binary, which this command does not change).
// engine.live-restore is left out: it is what this command fixes.
var auditIDs = []string{"unit.", "engine.reachable", "workload.", "host.self-in-container", "host.package-automation"}

// AuditChecks returns the checks Enable runs before touching anything.
func AuditChecks() []checks.Check {
	var out []checks.Check
	for _, c := range checks.PreflightChecks() {
		for _, id := range auditIDs {
			if c.ID == id || (strings.HasSuffix(id, ".") && strings.HasPrefix(c.ID, id)) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// blocking are the audit checks without which a reload cannot be done or
// confirmed.
var blocking = []string{"unit.loaded", "unit.active", "engine.reachable"}

type run struct {
	// file is the daemon.json written: the plan's, or the file its
	// symbolic link names.
	file string
	p    *plan.Plan
	o    Options
	r    *Result
	env  *checks.Env
	rn   *upgrade.Runner
}

func (x *run) logf(format string, a ...any) {
	if x.o.Log != nil {
		fmt.Fprintf(x.o.Log, format+"\n", a...)
	}
}

// step runs fn as one phase of the run. Once the file is written every
// step counts as an undo step: an interrupt must not stop the way back.
func (x *run) step(ctx context.Context, name, desc string, fn func() (string, error)) error {
	return x.rn.Run(ctx, []upgrade.Phase{{Name: name, Desc: desc, ChangesHost: true, Undo: true,
		Run: func(context.Context) (string, error) { return fn() }}})
}

// Enable turns live restore on for the target of p (its workloads, if any,
// are probed during the reload). The result says what happened; it is
// never nil.
func Enable(ctx context.Context, p *plan.Plan, o Options) *Result {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	x := &run{p: p, o: o, r: &Result{Target: p.Target.Kind, Unit: p.Target.Unit, DaemonConfig: p.Target.DaemonConfig,
		Findings: []daemonjson.Finding{}, Steps: []upgrade.PhaseReport{}, Containers: []upgrade.Change{}, Probes: []upgrade.ProbeReport{},
		Audit: []AuditItem{}, BeforeUpgrade: []string{}}}
	x.env = checks.NewEnv(p, checks.Options{Manager: o.Manager, Connect: o.Connect})
	x.rn = upgrade.NewRunner(x.logf, &x.r.Steps)
	defer x.env.Close()
	x.r.Result = x.enable(ctx)
	x.logf("[result] %s", x.r.Result)
	return x.r
}

func (x *run) refuse(err error, remedy string) upgrade.Result {
	x.r.Error, x.r.Remedy = err.Error(), remedy
	return Refused
}

func (x *run) enable(ctx context.Context) upgrade.Result {
	p, r := x.p, x.r
	path := p.Target.DaemonConfig

	// 1. Audit: read-only; decides whether a reload can be done at all.
	rep := checks.Run(ctx, x.env, AuditChecks(), nil)
	for _, c := range rep.Results {
		r.Audit = append(r.Audit, AuditItem{ID: c.ID, Status: string(c.Status), Message: c.Message, Remedy: c.Remedy, Details: c.Details})
		if c.Status == checks.Fail || c.Status == checks.Warn {
			line := fmt.Sprintf("[%s] %s: %s", c.Status, c.ID, c.Message)
			if c.Remedy != "" {
				line += " -> " + c.Remedy
			}
			r.BeforeUpgrade = append(r.BeforeUpgrade, line)
		}
	}
	for _, c := range rep.Results {
		if slices.Contains(blocking, c.ID) && c.Status == checks.Fail {
			return x.refuse(fmt.Errorf("%s: %s (nothing was changed)", c.ID, c.Message), c.Remedy)
		}
	}
	u, err := x.env.LoadedUnit(ctx)
	if err != nil {
		return x.refuse(err, "name the daemon's unit with --unit (and --systemd user for a user manager)")
	}
	if len(u.ExecReload) == 0 {
		return x.refuse(fmt.Errorf("unit %s has no ExecReload: live restore can only be applied by a restart, which stops every container now (nothing was changed)", u.Name),
			fmt.Sprintf("add ExecReload=/bin/kill -s HUP $MAINPID to [Service] of %s, run daemon-reload, then run this again", u.FragmentPath))
	}
	var argv []string
	if len(u.ExecStart) > 0 {
		argv = u.ExecStart[0].Argv
	}
	if cf := plan.ConfigFileFlag(argv); cf != "" && cf != path {
		return x.refuse(fmt.Errorf("unit %s reads %s (--config-file), not %s (nothing was changed)", u.Name, cf, path),
			"pass --daemon-config "+cf)
	}
	st, err := x.env.Status(ctx)
	if err != nil {
		return x.refuse(err, "start the daemon, or point --endpoint at its socket")
	}
	r.DaemonVersion, r.LiveRestoreBefore = st.Version, st.LiveRestore

	// 2. The new file, judged before anything is written. A symbolic link
	// is followed: the file it names is edited, the link kept.
	real, err := ConfigTarget(path)
	if err != nil {
		return x.refuse(err, "")
	}
	x.file = real
	old, err := os.ReadFile(real)
	existed := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return x.refuse(fmt.Errorf("reading %s: %w", path, err), "make the file readable, or point --daemon-config at the daemon's daemon.json")
	}
	cand, changed, err := SetTrue(old)
	if err != nil {
		return x.refuse(fmt.Errorf("%s: %w (nothing was changed)", path, err), "fix the file (liveswap validate "+path+" shows every problem), then run this again")
	}
	r.FileChanged, r.Diff = changed, Diff(path, old, cand)
	swarm, _ := x.env.Swarm(ctx)
	v := ValidateCandidate(ctx, p.Spec(), path, cand, u.ExecStart, st.Version, swarm)
	r.Rules, r.Findings = v.Rules, append(r.Findings, v.Findings...)
	if !v.Starts {
		first := v.Findings[0]
		for _, f := range v.Findings {
			if f.Severity == "fail" {
				first = f
				break
			}
		}
		return x.refuse(fmt.Errorf("with live-restore on, %s would not be accepted (%s): %s: %s (nothing was changed)", path, v.Rules, first.Location(path), first.Message),
			orDefault(first.Remedy, "fix "+path+", then run this again"))
	}

	if st.LiveRestore {
		r.LiveRestoreAfter = true
		if changed {
			x.logf("[check] the running daemon has live restore on although %s does not say so (a flag sets it?); nothing changed", path)
		}
		return AlreadyEnabled
	}
	if x.o.DryRun {
		return Planned
	}
	return x.apply(ctx, u.Name, old, cand, existed, changed)
}

// apply writes, reloads, confirms and verifies; any failure restores the
// old file and reloads again.
func (x *run) apply(ctx context.Context, unit string, old, cand []byte, existed, changed bool) upgrade.Result {
	p, r := x.p, x.r
	path := p.Target.DaemonConfig
	ctx = context.WithoutCancel(ctx) // once the file is written, finish or restore
	mgr, err := x.env.Manager(ctx)
	if err != nil {
		return x.refuse(err, "")
	}
	eng, err := x.env.Engine(ctx)
	if err != nil {
		return x.refuse(err, "")
	}
	var before *upgrade.Snapshot
	if err := x.step(ctx, "snapshot", "record every running container", func() (string, error) {
		before, err = upgrade.TakeSnapshot(ctx, eng, p.Workloads)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d running containers recorded", len(before.Containers)), nil
	}); err != nil {
		return x.refuse(err, "")
	}

	mode, uid, gid := os.FileMode(0o644), -1, -1
	if st, err := os.Stat(x.file); err == nil {
		mode = st.Mode().Perm()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(sys.Uid), int(sys.Gid)
		}
	}
	if existed {
		backup := x.file + ".liveswap-backup-" + x.o.Now().UTC().Format("20060102T150405Z")
		if err := x.step(ctx, "backup", "copy "+x.file+" beside it", func() (string, error) {
			return "copied to " + backup, writeAtomic(backup, old, mode, uid, gid)
		}); err != nil {
			return x.refuse(fmt.Errorf("backing up %s: %w (nothing was changed)", path, err), "free space in "+filepath.Dir(path))
		}
		r.Backup = backup
	}

	probers := x.startProbes(ctx)
	stopProbes := func() {
		for _, pr := range probers {
			s := pr.Stop()
			r.Probes = append(r.Probes, upgrade.ProbeReport{Name: s.Name, Kind: s.Kind, Target: s.Target, Sent: s.Sent, Failed: s.Failed, MaxGapMS: s.MaxGapMS(), P99MS: s.P99MS()})
		}
		probers = nil
	}
	defer stopProbes()

	failed := func(err error) upgrade.Result {
		r.Error = err.Error()
		rerr := x.restore(ctx, mgr, unit, old, existed, mode, uid, gid)
		stopProbes()
		interrupted := x.verify(ctx, eng, before)
		switch {
		case rerr != nil:
			r.Error = errors.Join(err, fmt.Errorf("restoring %s: %w", path, rerr)).Error()
			r.Remedy = fmt.Sprintf("put the backup %s back as %s and reload %s", orDefault(r.Backup, "(none: remove the file)"), x.file, unit)
			return Failed
		case interrupted != nil:
			r.Error = errors.Join(err, interrupted).Error()
			r.Remedy = "containers were interrupted: inspect them (docker ps -a); the previous daemon.json is back"
			return Failed
		}
		r.Remedy = "the previous daemon.json is back and reloaded; fix the cause above and run this again"
		return Restored
	}

	if changed {
		if err := x.step(ctx, "write", "write the new "+path+" atomically", func() (string, error) {
			return fmt.Sprintf(`%s now has "live-restore": true`, x.file), writeAtomic(x.file, cand, mode, uid, gid)
		}); err != nil {
			return failed(err)
		}
	}
	if err := x.step(ctx, "reload", "reload "+unit+" through systemd", func() (string, error) {
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		return "reload job of " + unit + " done (SIGHUP)", mgr.Reload(rctx, unit)
	}); err != nil {
		return failed(err)
	}
	if err := x.step(ctx, "confirm", "wait for the Engine API to report live restore on", func() (string, error) {
		return x.confirm(ctx, eng, mgr, unit)
	}); err != nil {
		return failed(err)
	}
	r.LiveRestoreAfter = true
	// Keep probing a moment: a container that dies after the reload must
	// be seen.
	time.Sleep(500 * time.Millisecond)
	stopProbes()
	if err := x.step(ctx, "verify", "compare containers with the snapshot and read the probes", func() (string, error) {
		if err := x.verify(ctx, eng, before); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d containers kept their process", len(r.Containers)), nil
	}); err != nil {
		r.LiveRestoreAfter = false
		return failed(err)
	}
	return Enabled
}

// confirm waits until the daemon reports live restore on and the unit is
// still active.
func (x *run) confirm(ctx context.Context, eng engine.Engine, mgr *systemd.Manager, unit string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, x.o.Timeout)
	defer cancel()
	begin := time.Now()
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := eng.Status(actx)
		acancel()
		if err == nil && st.LiveRestore {
			u, err := mgr.Unit(ctx, unit)
			if err != nil {
				return "", err
			}
			if u.ActiveState != "active" {
				return "", fmt.Errorf("unit %s is %s/%s after the reload, want active", unit, u.ActiveState, u.SubState)
			}
			return fmt.Sprintf("the Engine API reports LiveRestoreEnabled=true after %v", time.Since(begin).Round(time.Millisecond)), nil
		}
		select {
		case <-ctx.Done():
			why := "LiveRestoreEnabled is still false"
			if err != nil {
				why = err.Error()
			}
			return "", fmt.Errorf("the daemon did not report live restore on within %v after the reload: %s (does this version reload live-restore on SIGHUP? its log says why)", x.o.Timeout, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// verify compares the running containers with before and records it.
func (x *run) verify(ctx context.Context, eng engine.Engine, before *upgrade.Snapshot) error {
	if before == nil {
		return nil
	}
	after, err := upgrade.TakeSnapshot(ctx, eng, x.p.Workloads)
	if err != nil {
		return err
	}
	x.r.Containers = upgrade.Compare(before, after)
	return upgrade.Judge(x.r.Containers, x.r.Probes, x.p.Policy.MaxProbeFailures)
}

func (x *run) startProbes(ctx context.Context) []*probe.Prober {
	var out []*probe.Prober
	for _, w := range x.p.Workloads {
		pr, err := probe.Start(ctx, w.Spec())
		if err != nil {
			x.logf("[probe] %s not probed: %v", w.Container, err)
			continue
		}
		out = append(out, pr)
	}
	return out
}

// restore puts the old file back (or removes the new one) and reloads.
func (x *run) restore(ctx context.Context, mgr *systemd.Manager, unit string, old []byte, existed bool, mode os.FileMode, uid, gid int) error {
	path := x.p.Target.DaemonConfig
	return x.step(ctx, "restore", "put the previous "+path+" back and reload", func() (string, error) {
		var err error
		if existed {
			err = writeAtomic(x.file, old, mode, uid, gid)
		} else if rerr := os.Remove(x.file); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
		if err != nil {
			return "", err
		}
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := mgr.Reload(rctx, unit); err != nil {
			return "", fmt.Errorf("%s restored, but reloading %s: %w", path, unit, err)
		}
		return path + " restored and " + unit + " reloaded", nil
	})
}

// writeAtomic replaces path keeping its mode and owner: the daemon reads
// the old file or the new one, never half of one.
func writeAtomic(path string, data []byte, mode os.FileMode, uid, gid int) error {
	return atomicfile.WriteFileOwned(path, data, mode, atomicfile.Owner{UID: uid, GID: gid})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
