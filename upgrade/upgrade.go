package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/state"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

// PreflightFunc runs the pre-flight checks for a plan; failed means the
// upgrade must not start.
type PreflightFunc func(ctx context.Context, p *plan.Plan) (results []CheckResult, failed bool, err error)

// Options tune a run; the zero value plus a plan is a careful default.
type Options struct {
	StateDir  string        // journal, lock, snapshots; default /var/lib/liveswap
	LockDir   string        // the locks of units and files, shared by every state folder; default state.LockDir("")
	DryRun    bool          // print the steps, touch nothing
	Force     bool          // go on when preflight fails (negative controls)
	Preflight PreflightFunc // nil skips preflight (the caller said so)
	Files     Files         // file moves; default OSFiles
	Log       io.Writer     // one line per phase; nil for none
	Progress  Progress      // waits and copies; nil for none
	// HoldAfterSwap, when set, is called after the swap is journaled and
	// before the restart (crash-recovery tests stop the process there).
	HoldAfterSwap func()
}

// Progress shows long waits; the cmd wires progressbar on a TTY.
type Progress interface {
	Bytes(label string, total int64) func(n int64)
	Wait(label string) (done func())
}

type noProgress struct{}

func (noProgress) Bytes(string, int64) func(int64) { return nil }
func (noProgress) Wait(string) func()              { return func() {} }

// run is one apply in progress.
type run struct {
	plan    *plan.Plan
	opts    Options
	journal *Journal
	locks   []*state.Lock // the targets' locks, then the state folder's
	sd      *systemd.Manager
	eng     engine.Engine
	report  *Report
	state   *RunState // the journal's view, for resume
	// restoreVersion is what a rollback brings back (the backups' version);
	// empty in apply, whose rollback returns to the version it found.
	restoreVersion string
	rn             *runner

	before *Snapshot
	// noSnapshot says why a rollback run has no snapshot to compare with.
	noSnapshot string
	probers    []*probe.Prober
	downtime   *engine.Downtime
	swaps      []Swap
	swapped    bool
	readyAt    time.Time
	probeCtx   context.Context
	stopAll    context.CancelFunc
}

// phases are apply's steps, in order. Before swap nothing on the host has
// changed (a staged file is removed on failure); from swap on, a failure is
// rolled back, except verify's, which is a verdict on the workloads.
func (r *run) phases() []Phase {
	if r.plan.HasPackages() {
		return r.packagePhases()
	}
	return r.binaryPhases()
}

func (r *run) binaryPhases() []Phase {
	return []Phase{
		{Name: "preflight", Desc: "run the pre-flight checks", Resume: SkipOnResume, Run: noDetail(r.preflight)},
		{Name: "lock", Desc: "take the host's upgrade lock", Resume: RunAgain, Run: noDetail(r.takeLock)},
		{Name: "snapshot", Desc: "record every running container and start the probes", Resume: RunAgain, Run: noDetail(r.snapshot)},
		{Name: "stage", Desc: "check each target is the regular file its unit runs, then copy each new binary beside it, fsync, verify sha256", JournalSwaps: true, Run: noDetail(r.stage)},
		{Name: "recheck", Desc: "check each binary about to be installed or run: a regular file of root's in a folder of root's, writable by no one else, an ELF with the planned sha256", Resume: RunAgain, Run: r.recheck},
		{Name: "swap", Desc: "keep each old binary as a backup and rename the new one in place", ChangesHost: true, JournalSwaps: true, Run: noDetail(r.swap)},
		{Name: "restart", Desc: "restart each unit whose binary changed through systemd, containerd.service before the target, and wait for the jobs", ChangesHost: true, Run: noDetail(r.restart)},
		{Name: "ready", Desc: "wait for the API, the expected versions (containerd's through the engine), live restore, and each unit running its new file", ChangesHost: true, Run: noDetail(r.ready)},
		{Name: "canary", Desc: "create, start and remove a short-lived container", ChangesHost: true, Run: r.canary},
		{Name: "verify", Desc: "compare containers with the snapshot and read the probes", ChangesHost: true, Judges: true, Run: noDetail(r.verify)},
		{Name: "commit", Desc: "remove staging files and prune old backups", ChangesHost: true, Run: noDetail(r.commit)},
	}
}

// rollbackPhase puts every backup back, restarts the unit and checks the
// previous daemon and the workloads again.
func (r *run) rollbackPhase() Phase {
	if r.plan.HasPackages() {
		return r.reinstallPhase()
	}
	return Phase{Name: "rollback", Desc: fmt.Sprintf("restore %d binaries, restart their units and check each component again", len(r.swaps)),
		ChangesHost: true, Undo: true, Run: r.rollback}
}

func noDetail(f func(context.Context) error) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return "", f(ctx) }
}

// newRunner runs this run's phases; resume holds what an interrupted
// process already did.
func (r *run) newRunner(resume *RunState) *runner {
	x := &runner{run: r.report.Run, journal: r.journal, logf: r.logf, reports: &r.report.Phases,
		swaps: func() []Swap { return r.swaps }}
	if resume != nil {
		x.resumed = map[string]bool{}
		for k, v := range resume.Done {
			x.resumed[k] = v
		}
	}
	return x
}

// Apply runs plan p and returns its report; err is only for failures to
// even start (bad options). The report's Result says what happened.
func Apply(ctx context.Context, p *plan.Plan, opts Options) (*Report, error) {
	r, err := newRun(p, opts)
	if err != nil {
		return nil, err
	}
	return r.apply(ctx, nil), nil
}

// Resume finishes the last run of the journal in opts.StateDir.
func Resume(ctx context.Context, opts Options) (*Report, error) {
	st, err := lastRun(stateDir(opts))
	if err != nil {
		return nil, err
	}
	if st == nil || st.Ended() || (st.Plan == nil && st.PlanErr == nil) {
		return nil, errors.New("nothing to resume: the journal has no unfinished run (see `liveswap status`)")
	}
	if st.PlanErr != nil {
		return nil, fmt.Errorf("run %s cannot be resumed: %w", st.Run, st.PlanErr)
	}
	r, err := newRun(st.Plan, opts)
	if err != nil {
		return nil, err
	}
	r.report.Run = st.Run
	r.report.FromVersion = st.From
	r.swaps = st.Swaps
	r.swapped = st.Done["swap"] || st.Done["install"]
	return r.apply(ctx, st), nil
}

func stateDir(o Options) string { return state.Dir(o.StateDir) }

// lastRun reads the last run of the journal in dir (nil: none), checking
// the folder as OpenJournal does but making nothing.
func lastRun(dir string) (*RunState, error) {
	j, err := readJournal(dir)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	return j.Last()
}

func newRun(p *plan.Plan, opts Options) (*run, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if opts.Files == nil {
		opts.Files = OSFiles{}
	}
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	opts.StateDir = stateDir(opts)
	r := &run{plan: p, opts: opts}
	r.report = &Report{Run: time.Now().UTC().Format("20060102T150405Z"), Target: p.Target.Kind, Unit: p.Target.Unit,
		Components: []ComponentReport{}, Containers: []Change{}, Probes: []ProbeReport{}, Phases: []PhaseReport{}}
	if d := p.Daemon(); d != nil {
		r.report.ToVersion = d.ExpectedVersion
	}
	return r, nil
}

func (r *run) logf(format string, a ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, format+"\n", a...)
	}
}

func (r *run) apply(ctx context.Context, resume *RunState) *Report {
	if r.opts.DryRun {
		return r.dryRun(ctx)
	}
	r.state = resume
	r.probeCtx, r.stopAll = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cleanup()
	r.rn = r.newRunner(resume)
	if err := r.rn.Run(ctx, r.phases()); err != nil {
		return r.fail(ctx, err)
	}
	r.end(Upgraded)
	return r.report
}

func (r *run) end(result Result) {
	r.report.Result = result
	if r.journal != nil {
		if err := r.journal.Append(Entry{Run: r.report.Run, Phase: "end", Status: "end", Result: result, Error: r.report.Error}); err != nil {
			// The host is as the result says; only the record is missing.
			r.report.Error = strings.TrimPrefix(r.report.Error+"; ", "; ") + "the journal does not record the end of this run: " + err.Error()
			r.report.Remedy = strings.TrimPrefix(r.report.Remedy+" ", " ") + "Free space or fix permissions in " + r.journal.Dir + ": until then `liveswap status` shows this run as unfinished."
		}
	}
	r.logf("[result] %s", result)
}

func (r *run) cleanup() {
	r.stopProbes()
	if r.stopAll != nil {
		r.stopAll()
	}
	if r.sd != nil {
		r.sd.Close()
	}
	if r.eng != nil {
		r.eng.Close()
	}
	for _, l := range r.locks {
		l.Release()
	}
	r.journal.Close()
}

func (r *run) stopProbes() {
	for _, p := range r.probers {
		r.report.Probes = append(r.report.Probes, probeReport(p.Stop()))
	}
	r.probers = nil
	if r.downtime != nil {
		r.report.DaemonDowntimeMS = float64(r.downtime.Stop().Microseconds()) / 1000
		r.report.APICalls, r.report.APIErrors = r.downtime.Calls()
		r.downtime = nil
	}
}

// fail decides what a failed phase means: before the swap nothing was
// touched (refused); after it the old binary comes back (rolled-back) unless
// the workloads were already hurt or the policy says never (failed).
func (r *run) fail(ctx context.Context, err error) *Report {
	r.report.Error = err.Error()
	var pe *PhaseError
	if !errors.As(err, &pe) {
		pe = &PhaseError{Phase: &Phase{Name: "?", ChangesHost: true}, Err: err}
	}
	// This process changed nothing: another run holds the target, or a
	// file it would trust can be changed by another user. Whatever an
	// earlier process left stays as it is, for the operator to judge.
	if errors.Is(err, state.ErrLocked) || errors.Is(err, ErrUntrusted) {
		if errors.Is(err, ErrUntrusted) {
			r.report.Remedy = "nothing was changed by this run: find out who changed the file named above; `liveswap status` lists the run's files"
		}
		if r.state != nil {
			// A refused resume leaves the interrupted run as unfinished
			// as it found it: status must still say so.
			r.report.Result = Refused
			r.logf("[result] %s", Refused)
			return r.report
		}
		r.end(Refused)
		return r.report
	}
	if !r.swapped {
		for _, s := range r.swaps {
			r.opts.Files.Remove(s.Staged)
		}
		if pe.Phase.ChangesHost && !pe.NotStarted {
			r.end(Failed)
			return r.report
		}
		r.end(Refused)
		return r.report
	}
	// A judging phase's verdict on the workloads cannot be undone; its
	// other failures (the daemon stopped answering) are rolled back.
	if pe.Phase.Judges && errors.Is(err, ErrInterrupted) {
		r.report.Remedy = "workloads were interrupted while the new daemon started; it is running now. " +
			"Inspect the containers named above; `liveswap rollback` restores the previous binary."
		r.end(Failed)
		return r.report
	}
	if r.plan.Policy.Rollback == "never" {
		r.report.Remedy = "policy.rollback is never: the new binary stays; `liveswap rollback` restores the previous one."
		r.end(Failed)
		return r.report
	}
	if rerr := r.rn.Run(ctx, []Phase{r.rollbackPhase()}); rerr != nil {
		r.report.Error = errors.Join(err, rerr).Error()
		r.report.Remedy = "the rollback failed: restore the backups listed by `liveswap status` and restart the unit."
		if errors.Is(rerr, ErrInterrupted) {
			r.report.Remedy = remedyInterruptedByRollback
		}
		r.end(Failed)
		return r.report
	}
	r.end(RolledBack)
	return r.report
}

func (r *run) preflight(ctx context.Context) error {
	if r.opts.Preflight == nil {
		return nil
	}
	results, failed, err := r.opts.Preflight(ctx, r.plan)
	r.report.Checks = results
	if err != nil {
		return err
	}
	if failed {
		var ids, msgs []string
		for _, c := range results {
			if c.Status == "fail" {
				ids = append(ids, c.ID)
				msgs = append(msgs, c.ID+": "+c.Message)
			}
		}
		if r.opts.Force {
			r.logf("[preflight] failed checks %s ignored (--force)", strings.Join(ids, ", "))
			return nil
		}
		return fmt.Errorf("checks failed (nothing was touched; see `liveswap preflight`): %s", strings.Join(msgs, "; "))
	}
	return nil
}

// takeLock takes the lock of every unit and file the plan changes (shared
// by every state folder: two runs with different --state-dir must not
// change one daemon at once), then the state folder's own lock (one
// journal writer), and opens the journal.
func (r *run) takeLock(ctx context.Context) error {
	dir, _ := filepath.Abs(r.opts.StateDir)
	l, err := state.AcquireTargets(r.opts.LockDir, dir, checks.LockTargets(r.plan))
	if err != nil {
		return err
	}
	r.locks = append(r.locks, l)
	if l, err = state.Acquire(r.opts.StateDir); err != nil {
		return err
	}
	r.locks = append(r.locks, l)
	if r.journal, err = OpenJournal(r.opts.StateDir); err != nil {
		return err
	}
	r.rn.journal = r.journal
	if r.state == nil {
		last, err := r.journal.Last()
		if err != nil {
			return err
		}
		if last != nil && !last.Ended() && (last.Done["swap"] || last.Done["install"]) {
			return fmt.Errorf("run %s stopped after swapping binaries (phase %s): finish it with `liveswap apply --resume` or undo it with `liveswap rollback` first", last.Run, last.LastPhase)
		}
		if err := r.journal.Begin(r.report.Run, r.plan); err != nil {
			return err
		}
	}
	return r.restoreLeftoverPolicy()
}

func (r *run) connect(ctx context.Context) error {
	var err error
	if r.sd == nil {
		scope, perr := systemd.ParseScope(r.plan.Target.Systemd)
		if perr != nil {
			return perr
		}
		if r.sd, err = systemd.Connect(ctx, scope); err != nil {
			return err
		}
	}
	if r.eng == nil {
		if r.eng, err = engine.New(r.plan.Target.Endpoint); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) snapshotPath() string {
	return filepath.Join(r.opts.StateDir, "run-"+r.report.Run+"-before.json")
}

func (r *run) snapshot(ctx context.Context) error {
	if err := r.connect(ctx); err != nil {
		return err
	}
	_, statErr := os.Stat(r.snapshotPath())
	// A run killed during its own snapshot left none, and had changed
	// nothing yet: the resumed run takes it now.
	fresh := r.state == nil || (errors.Is(statErr, os.ErrNotExist) && !r.state.Done["snapshot"])
	if !fresh {
		s, err := ReadSnapshot(r.snapshotPath())
		if err != nil {
			return err
		}
		r.before = s
	} else {
		s, err := TakeSnapshot(ctx, r.eng, r.plan.Workloads)
		if err != nil {
			return err
		}
		r.before = s
		r.report.FromVersion = s.Version
		if err := s.WriteFile(r.snapshotPath()); err != nil {
			return err
		}
		if err := r.journal.Append(Entry{Run: r.report.Run, Phase: "snapshot", Status: "info", From: s.Version}); err != nil {
			return err
		}
	}
	if err := r.startProbes(); err != nil {
		return err
	}
	r.downtime = engine.WatchDowntime(r.probeCtx, r.eng, 10*time.Millisecond)
	return nil
}

// startProbes starts a probe of every workload of the plan; they run until
// stopProbes.
func (r *run) startProbes() error {
	for _, w := range r.plan.Workloads {
		p, err := probe.Start(r.probeCtx, w.Spec())
		if err != nil {
			return err
		}
		r.probers = append(r.probers, p)
	}
	return nil
}

func (r *run) stage(ctx context.Context) error {
	r.swaps = nil
	sums, err := r.checkTargets(ctx)
	if err != nil {
		return err
	}
	for i, b := range r.plan.Binaries {
		// Each backup is named after its own binary's version: the file on
		// disk, which checkTargets proved is the one that runs.
		own := r.ownVersion(ctx, b)
		// This run holds the target's lock, so no other run is staging
		// beside it: a staged copy there was left by a run that died.
		for _, f := range staleStaged(b.Path) {
			if err := r.opts.Files.Remove(f); err != nil {
				return fmt.Errorf("removing %s, left by an interrupted run: %w", f, err)
			}
			r.logf("[stage] removed %s, a staged copy left by an interrupted run", f)
		}
		s := Swap{Path: b.Path, Staged: stagedName(b.Path, r.report.Run), Backup: backupName(b.Path, own), FromVersion: own, BackupSHA256: sums[i]}
		r.swaps = append(r.swaps, s)
		st, err := os.Stat(b.NewFile)
		if err != nil {
			return fmt.Errorf("new binary: %w", err)
		}
		prog := r.opts.Progress.Bytes("staging "+filepath.Base(b.Path), st.Size())
		if err := r.opts.Files.Stage(ctx, b.NewFile, s.Staged, b.SHA256, prog); err != nil {
			return err
		}
		if r.swaps[len(r.swaps)-1].NewSHA256, err = stagedSHA(s.Staged, b.SHA256); err != nil {
			return err
		}
	}
	r.report.Components = r.componentReports(func(i int, _ plan.Binary) string { return r.swaps[i].FromVersion },
		func(_ int, b plan.Binary) string { return b.ExpectedVersion })
	return nil
}

func (r *run) swap(ctx context.Context) error {
	// The journal already lists every backup path (stage entry), so a crash
	// between two renames still knows where each old binary is.
	for _, s := range r.swaps {
		if err := swapIn(r.opts.Files, s); err != nil {
			return err
		}
		r.swapped = true
	}
	if r.opts.HoldAfterSwap != nil {
		if err := r.journal.Append(Entry{Run: r.report.Run, Phase: "swap", Status: "done", Swaps: r.swaps}); err != nil {
			return err
		}
		r.opts.HoldAfterSwap()
	}
	return nil
}

func (r *run) restart(ctx context.Context) error {
	r.swapped = true // on resume, the swap happened in an earlier process
	if err := r.connect(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.plan.Policy.ReadyTimeout.D()+r.plan.Policy.StopTimeout.D())
	defer cancel()
	return r.restartUnits(ctx)
}

func (r *run) ready(ctx context.Context) error {
	want := ""
	if d := r.plan.Daemon(); d != nil {
		want = d.ExpectedVersion
	}
	err := r.waitReady(ctx, want)
	if err == nil {
		err = r.componentsReady(ctx, func(_ int, b plan.Binary) string { return b.ExpectedVersion })
	}
	r.readyAt = time.Now()
	return err
}

// settle is how long the probes keep running after the daemon is ready
// before verify judges: an interruption that shows late (a container dying
// after re-attach) must be seen. The canary's time counts toward it.
const settle = 500 * time.Millisecond

// waitReady waits for the API and checks what the daemon says of itself.
func (r *run) waitReady(ctx context.Context, wantVersion string) error {
	ctx, cancel := context.WithTimeout(ctx, r.plan.Policy.ReadyTimeout.D())
	defer cancel()
	done := r.opts.Progress.Wait("waiting for " + r.plan.Target.Endpoint)
	st, took, err := r.eng.WaitReady(ctx, 20*time.Millisecond)
	done()
	if err != nil {
		return err
	}
	r.logf("[ready] API answered after %v: version %s, live restore %v", took.Round(time.Millisecond), st.Version, st.LiveRestore)
	if wantVersion != "" && !VersionMatches(st.Version, wantVersion) {
		return fmt.Errorf("daemon reports version %s, want %s: the binary in place is not the one planned", st.Version, wantVersion)
	}
	if !st.LiveRestore {
		if !r.opts.Force {
			return errors.New("live restore is off after the restart: the next restart would stop every container")
		}
		r.logf("[ready] live restore is off (ignored: --force)")
	}
	// That each restarted unit is active and runs its planned file is
	// componentsReady's check (runsFile).
	r.report.ToVersion = st.Version
	return nil
}

// VersionMatches accepts a reported version equal to want or want plus a
// packaging suffix (20.10.24+dfsg1 for 20.10.24).
func VersionMatches(reported, want string) bool {
	if reported == want {
		return true
	}
	rest, ok := strings.CutPrefix(reported, want)
	return ok && (strings.HasPrefix(rest, "+") || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "~"))
}

// canary runs the plan's canary; its detail names what ran, so a report
// shows the canary did run.
func (r *run) canary(ctx context.Context) (string, error) {
	if reason := CanarySkipped(r.plan.Canary); reason != "" {
		return "", Skip(reason)
	}
	c := r.plan.Canary
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := r.eng.RunCanary(ctx, engine.Canary{Name: "liveswap-canary-" + strings.ToLower(r.report.Run), Image: c.Image, Command: c.Command}); err != nil {
		return "", err
	}
	return fmt.Sprintf("ran %s %s: exit 0", c.Image, strings.Join(c.Command, " ")), nil
}

// CanarySkipped says why a plan's canary would not run, "" when it runs.
func CanarySkipped(c plan.Canary) string {
	switch {
	case c.Skip:
		return "canary.skip is set in the plan"
	case c.Image == "":
		return "no image: the plan names no canary.image (liveswap plan takes one from a running container that has /bin/sh, or --canary-image)"
	}
	return ""
}

func (r *run) verify(ctx context.Context) error {
	if r.readyAt.IsZero() { // resumed after ready: the probes just started
		r.readyAt = time.Now()
	}
	if wait := time.Until(r.readyAt.Add(settle)); wait > 0 {
		time.Sleep(wait)
	}
	after, err := TakeSnapshot(ctx, r.eng, r.plan.Workloads)
	if err != nil {
		return err
	}
	r.stopProbes()
	return r.judge(after)
}

// judge compares the containers with the snapshot (none without one) and
// reads the probes.
func (r *run) judge(after *Snapshot) error {
	r.report.Containers = append([]Change{}, Compare(r.before, after)...)
	return Judge(r.report.Containers, r.report.Probes, r.plan.Policy.MaxProbeFailures)
}

// Judge names every interrupted container, every container that lost
// data and every probe with more failures than allowed; nil means nothing
// was interrupted.
func Judge(containers []Change, probes []ProbeReport, maxProbeFailures int) error {
	var bad []string
	for _, c := range containers {
		switch {
		case c.Interrupted && c.DataLost:
			bad = append(bad, c.Name+" ("+c.Reason+"; data lost: "+c.Data+")")
		case c.Interrupted:
			bad = append(bad, c.Name+" ("+c.Reason+")")
		case c.DataLost:
			bad = append(bad, c.Name+" (data lost: "+c.Data+")")
		}
	}
	for _, p := range probes {
		if p.Failed > maxProbeFailures {
			bad = append(bad, fmt.Sprintf("probe %s: %d of %d failed", p.Name, p.Failed, p.Sent))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInterrupted, strings.Join(bad, "; "))
	}
	return nil
}

// ErrInterrupted is Judge's verdict: a workload was interrupted.
var ErrInterrupted = errors.New("interrupted")

func (r *run) commit(ctx context.Context) error {
	for _, s := range r.swaps {
		r.opts.Files.Remove(s.Staged)
		removed, err := pruneBackups(r.opts.Files, s.Path, r.plan.Policy.KeepBackups, s.Backup)
		if err != nil {
			return err
		}
		for _, f := range removed {
			r.logf("[commit] pruned old backup %s", f)
		}
	}
	return nil
}

// rollback puts every backup back, restarts and checks the old daemon and
// the workloads again.
func (r *run) rollback(ctx context.Context) (string, error) {
	ctx = context.WithoutCancel(ctx) // an interrupted liveswap must still finish a rollback
	var errs []error
	for _, s := range r.swaps {
		// A backup is installed and run as root like a new binary.
		if err := checkBinary("backup", s.Backup, ""); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	for _, s := range r.swaps {
		if err := swapBack(r.opts.Files, s); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	want := r.restoreVersion
	if want == "" { // apply's own rollback: back to the version it found
		want = r.report.FromVersion
	}
	if !r.targetRestarted() {
		want = "" // the daemon was not swapped: it answers as it did
	}
	r.reverseComponents()
	if err := r.restartAndCheck(ctx, want); err != nil {
		return "", err
	}
	if want != "" {
		r.report.ToVersion = want
	}
	compared := fmt.Sprintf("%d containers compared with the snapshot", len(r.report.Containers))
	if r.before == nil {
		compared = "containers not compared: " + r.noSnapshot
	}
	return fmt.Sprintf("restored %d binaries; %s answers; %s; %d probes read", len(r.swaps), orUnknown(r.report.ToVersion),
		compared, len(r.report.Probes)), nil
}

// reverseComponents turns the report's components round for a rollback:
// from what each runs now (the swapped-in version) to its previous one.
func (r *run) reverseComponents() {
	running := map[string]string{}
	for _, c := range r.report.Components {
		running[c.Name] = c.ToVersion
	}
	r.report.Components = r.componentReports(func(_ int, b plan.Binary) string {
		if v := running[r.plan.ComponentOf(b).Name]; v != "" {
			return v
		}
		return b.ExpectedVersion
	}, func(i int, b plan.Binary) string { return r.swapOf(b).FromVersion })
}

// swapOf is the swap of b's file (zero when the run has none).
func (r *run) swapOf(b plan.Binary) Swap {
	for _, s := range r.swaps {
		if s.Path == b.Path {
			return s
		}
	}
	return Swap{}
}

func orUnknown(s string) string {
	if s == "" {
		return "the daemon"
	}
	return "version " + s
}

// restartAndCheck restarts the units, waits for version, checks each
// restored component and judges the
// workloads as verify does: the probes keep running until settle after
// ready, then the containers are compared with the snapshot when there is
// one, and the probes are read in any case.
func (r *run) restartAndCheck(ctx context.Context, version string) error {
	if err := r.connect(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, r.plan.Policy.ReadyTimeout.D()+r.plan.Policy.StopTimeout.D())
	defer cancel()
	if err := r.restartUnits(rctx); err != nil {
		return err
	}
	if err := r.waitReady(ctx, version); err != nil {
		return err
	}
	// Each restored component must run its old file and report the
	// version its backup holds.
	if err := r.componentsReady(ctx, func(_ int, b plan.Binary) string { return r.swapOf(b).FromVersion }); err != nil {
		return err
	}
	time.Sleep(settle) // an interruption that shows late must be seen
	var after *Snapshot
	if r.before != nil {
		var err error
		if after, err = TakeSnapshot(ctx, r.eng, r.plan.Workloads); err != nil {
			return err
		}
	}
	r.stopProbes()
	return r.judge(after)
}

func (r *run) dryRun(ctx context.Context) *Report {
	r.report.Result = Planned
	if r.opts.Preflight != nil {
		results, failed, err := r.opts.Preflight(ctx, r.plan)
		r.report.Checks = results
		if err != nil || failed {
			r.report.Result = Refused
			if err != nil {
				r.report.Error = err.Error()
			}
		}
	}
	for _, ph := range r.phases() {
		r.report.Steps = append(r.report.Steps, ph.Name+": "+ph.Desc)
	}
	for _, b := range r.plan.Binaries {
		r.report.Steps = append(r.report.Steps, fmt.Sprintf("swap %s <- %s (old kept as %s)", b.Path, b.NewFile, backupName(b.Path, "<running version>")))
	}
	if reason := CanarySkipped(r.plan.Canary); reason != "" {
		r.report.Steps = append(r.report.Steps, "canary skipped: "+reason)
	} else {
		r.report.Steps = append(r.report.Steps, fmt.Sprintf("canary %s %s", r.plan.Canary.Image, strings.Join(r.plan.Canary.Command, " ")))
	}
	for _, w := range r.plan.Workloads {
		r.report.Steps = append(r.report.Steps, fmt.Sprintf("probe %s: %s %s every %s", w.Container, w.Probe, w.Address, w.Interval))
	}
	return r.report
}
