package main

// The table: one entry per verdict liveswap gives. Anchors are the verdict
// lines themselves, so edits around them do not make an entry stale; when
// one does go stale the check says which, and the entry is updated with
// the code. Steps go from the cheapest test that can notice to the
// narrowest end-to-end test that exercises the path; an end-to-end step
// names a whole top-level test so that new cases of it count.
//
// "Switched off" means: the upgrade goes on (or reports success) where the
// verdict would have stopped it. A failing check becomes a warning (it no
// longer refuses); a condition gets "false &&"; a helper returns "fine" at
// once; an exit-code mapping moves to another code.

func unitTests(pkg string) Step    { return Step{Pkg: pkg} }
func unitRun(pkg, run string) Step { return Step{Pkg: pkg, Run: run} }
func e2e(run string) Step          { return Step{Pkg: "./e2e", Run: run} }

var (
	upgradeUnit = unitTests("./upgrade")
	checksUnit  = unitTests("./checks")
	cmdUnit     = unitTests("./cmd/liveswap")
	lrUnit      = unitTests("./upgrade/liverestore")
	// The daemon.json rules without the tests that run a real dockerd
	// (TestE2E...).
	rulesUnit = unitRun("./checks/daemonjson", "^Test[^E]")
)

// absent are verdicts the issue names that liveswap does not give yet
// (the keyspace one is compare.data-lost now).
var absent = []Absent{}

var table = []Mutation{
	// --- Package plans (upgrade/packages.go, checks/packages.go).
	{
		ID: "packages.previous", Verdict: "a package plan without a .deb of an installed version is refused by pre-flight",
		File: "checks/packages.go", Original: `return fail("a rollback that cannot happen is refused before the upgrade`, Replacement: `return warn("a rollback that cannot happen is refused before the upgrade`,
		Tests: []Step{checksUnit, e2e("^TestPackageUpgrade$")},
		Why:   "the upgrade would start with no way back: a failed dockerd would leave the host on a broken package",
	},
	{
		ID: "packages.policy-rc.d", Verdict: "dpkg runs under liveswap's policy-rc.d, which denies the maintainer scripts' restarts",
		File: "upgrade/packages.go", Original: "pol, err := dpkg.DenyActions(policyPath, r.opts.StateDir, r.report.Run, log)", Replacement: "pol, err := dpkg.DenyActions(filepath.Join(r.opts.StateDir, \"unused-policy-rc.d\"), r.opts.StateDir, r.report.Run, log)",
		Tests: []Step{unitTests("./internal/host/dpkg"), e2e("^TestPackageUpgrade$")},
		Why:   "containerd's postinst would restart containerd.service on its own, before liveswap's restart and outside its order: two restarts, one unjudged",
	},
	{
		ID: "packages.units", Verdict: "a package that would install a restarted unit with KillMode=control-group is refused",
		File: "checks/packages.go", Original: `if mode != "process" && mode != "none" {`, Replacement: `if false && mode != "process" && mode != "none" {`,
		Tests: []Step{checksUnit},
		Why:   "the package's unit would replace the audited one, and the next stop would kill the containers' shims",
	},
	// --- The verdict on the workloads: upgrade.Judge and what feeds it.
	{
		ID: "judge.probe-failures", Verdict: "a probe with more failures than policy.maxProbeFailures fails verify",
		File: "upgrade/upgrade.go", Original: "if p.Failed > maxProbeFailures {", Replacement: "if false && p.Failed > maxProbeFailures {",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "requests that failed during the swap would be reported as a clean upgrade as long as every container kept its process",
	},
	{
		ID: "judge.interrupted-container", Verdict: "a container Compare reports as interrupted fails verify",
		File: "upgrade/upgrade.go", Original: "\t\tcase c.Interrupted:\n", Replacement: "\t\tcase false:\n",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "a restarted or vanished container would pass verify: exit 0 after killing the workloads",
	},
	{
		ID: "judge.data-lost", Verdict: "a container that lost data (redis keys without a TTL gone) fails verify",
		File: "upgrade/upgrade.go", Original: "\t\tcase c.DataLost:\n", Replacement: "\t\tcase false:\n",
		Tests: []Step{upgradeUnit, e2e("^TestStackPatchUpgrade$")},
		Why:   "a cache emptied while its process survived would pass as an upgrade that kept everything",
	},
	{
		ID: "compare.data-lost", Verdict: "Compare reports keys without a TTL that vanished as data lost",
		File: "upgrade/snapshot.go", Original: "if a.Data.RedisKeys < b.Data.RedisKeys-b.Data.RedisExpires {", Replacement: "if false && a.Data.RedisKeys < b.Data.RedisKeys-b.Data.RedisExpires {",
		Tests: []Step{upgradeUnit, e2e("^TestStackPatchUpgrade$")},
		Why:   "the report would not say that a restart emptied the cache",
	},
	{
		ID: "probe.failure-count", Verdict: "a probe attempt that fails is counted as failed",
		File: "internal/host/probe/probe.go", Original: "p.stats.Failed++", Replacement: "p.stats.Failed += 0",
		Tests: []Step{unitTests("./internal/host/probe"), e2e("^TestApply$")},
		Why:   "every probe would report 0 failed, so the probe verdict could never fire",
	},
	{
		ID: "probe.in-flight", Verdict: "an attempt in flight when probing stops is counted (a workload that stopped answering just before verify fails its probe)",
		File: "internal/host/probe/probe.go", Original: "actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.spec.Timeout)", Replacement: "actx, cancel := context.WithTimeout(ctx, p.spec.Timeout)",
		Tests: []Step{unitTests("./internal/host/probe")},
		Why:   "a hung attempt cut by the stop left no failure: live restore off once showed 7 probes, 0 failed, where the witness saw 28 fail",
	},

	// --- Compare: each rule that names a container as interrupted.
	{
		ID: "compare.gone", Verdict: "a container of the snapshot that no longer runs is interrupted",
		File: "upgrade/snapshot.go", Original: `reasons = append(reasons, "no longer running")`, Replacement: `// mutation: a vanished container is not reported`,
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "containers stopped by the restart (live restore off, KillMode=control-group) would count as kept",
	},
	{
		ID: "compare.pid", Verdict: "a container whose PID changed is interrupted",
		File: "upgrade/snapshot.go", Original: "if a.Pid != b.Pid {", Replacement: "if false && a.Pid != b.Pid {",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "a container restarted in place by its restart policy keeps its ID: only the PID shows it",
	},
	{
		ID: "compare.started-at", Verdict: "a container whose StartedAt changed is interrupted",
		File: "upgrade/snapshot.go", Original: "if a.StartedAt != b.StartedAt {", Replacement: "if false && a.StartedAt != b.StartedAt {",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "a restart whose new process reuses the PID (PID namespaces) shows only in StartedAt",
	},
	{
		ID: "compare.restart-count", Verdict: "a container whose restart count changed is interrupted",
		File: "upgrade/snapshot.go", Original: "if a.RestartCount != b.RestartCount {", Replacement: "if false && a.RestartCount != b.RestartCount {",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "a daemon that restarted a container and reports the old PID and StartedAt would hide it",
	},
	{
		ID: "compare.redis-run-id", Verdict: "a redis whose run_id changed is interrupted (a workload identity)",
		File: "upgrade/snapshot.go", Original: "if a.Identity[k] != v {", Replacement: "if false && a.Identity[k] != v {",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "a redis restarted inside its container (same container PID) lost its in-memory data: only run_id shows it",
	},
	{
		ID: "snapshot.redis-run-id", Verdict: "the snapshot records each redis workload's run_id for Compare",
		File: "upgrade/snapshot.go", Original: `ct.Identity["redis_run_id"] = info["run_id"]`, Replacement: `ct.Identity["redis_run_id"] = info["run_id"][:0]`,
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "without the recorded run_id the run_id rule compares nothing with nothing",
	},
	{
		ID: "compare.health", Verdict: "a healthcheck that went healthy -> unhealthy between the snapshots names the container",
		File: "upgrade/snapshot.go", Original: "case before == container.Healthy && after == container.Unhealthy:", Replacement: "case false && before == container.Healthy && after == container.Unhealthy:",
		Tests: []Step{upgradeUnit, e2e("^TestLiveswapdUpgradeUnderLoad$")},
		Why:   "a workload whose own check fails after the swap would pass verify on its PID alone",
	},
	{
		ID: "snapshot.health", Verdict: "the snapshot records each container's health status for Compare",
		File: "upgrade/snapshot.go", Original: "ct.Health = in.State.Health.Status", Replacement: `ct.Health = ""`,
		Tests: []Step{upgradeUnit, e2e("^TestLiveswapdUpgradeUnderLoad$")},
		Why:   "without the recorded status the health rule compares nothing with nothing",
	},

	// --- apply's phases: preflight, ready, canary, lock.
	{
		ID: "apply.preflight-refuses", Verdict: "a failed pre-flight check stops apply before anything is touched",
		File: "upgrade/upgrade.go", Original: "if failed {\n\t\tvar ids, msgs []string", Replacement: "if false && failed {\n\t\tvar ids, msgs []string",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRefusesBeforeTouching$")},
		Why:   "apply would swap binaries on a host the checks refused (live restore off, KillMode=control-group)",
	},
	{
		ID: "apply.dry-run-refuses", Verdict: "a dry run reports refused when a check fails",
		File: "upgrade/upgrade.go", Original: "if err != nil || failed {\n\t\t\tr.report.Result = Refused", Replacement: "if false && (err != nil || failed) {\n\t\t\tr.report.Result = Refused",
		Tests: []Step{upgradeUnit, cmdUnit, e2e("^TestPlanThenApply$")},
		Why:   "`apply --dry-run` in a change review would say planned (exit 0) for an upgrade that will be refused",
	},
	{
		ID: "ready.version", Verdict: "the restarted daemon must report the planned version",
		File: "upgrade/upgrade.go", Original: `if wantVersion != "" && !VersionMatches(st.Version, wantVersion) {`, Replacement: `if false && wantVersion != "" && !VersionMatches(st.Version, wantVersion) {`,
		Tests: []Step{upgradeUnit, e2e("^(TestApplyRollsBack|TestApplyWrongRelease)$")},
		Why:   "a wrong binary in place (another release, a wrapper) would be committed as the upgrade",
	},
	{
		ID: "ready.version-match", Verdict: "VersionMatches accepts only the version itself plus a packaging suffix",
		File: "upgrade/upgrade.go", Original: "if reported == want {\n\t\treturn true", Replacement: "if true || reported == want {\n\t\treturn true",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRollsBack$")},
		Why:   "20.10.25 would match 20.10.2: the version check would accept any daemon",
	},
	{
		ID: "ready.live-restore", Verdict: "the restarted daemon must still have live restore on",
		File: "upgrade/upgrade.go", Original: "if !st.LiveRestore {\n\t\tif !r.opts.Force {", Replacement: "if false && !st.LiveRestore {\n\t\tif !r.opts.Force {",
		Tests: []Step{upgradeUnit, e2e("^(TestApply|TestApplyNewDaemonWithoutLiveRestore)$")},
		Why:   "a new binary that ignores live-restore would be committed; the next restart would stop every container",
	},
	{
		ID: "ready.unit-active", Verdict: "each restarted unit must be active after the restart",
		File: "upgrade/stack.go", Original: `if u.ActiveState != "active" || u.MainPID <= 0 {`, Replacement: `if u.MainPID <= 0 {`,
		Tests: []Step{upgradeUnit, e2e("^TestApplyRollsBack$")},
		Why:   "a daemon answering from outside its unit (or a unit on its way down) would be taken as the upgraded one",
	},
	{
		ID: "canary.failure", Verdict: "a canary container that cannot be created, started or removed fails the upgrade",
		File: "upgrade/upgrade.go", Original: "Image: c.Image, Command: c.Command}); err != nil {",
		// The canary still runs; its failure is dropped.
		Replacement: "Image: c.Image, Command: c.Command}); err != nil && false {",
		Tests:       []Step{upgradeUnit, e2e("^(TestApply|TestPlanThenApply)$")},
		Why:         "a new daemon that cannot start containers would be committed because the old ones still run",
	},
	{
		ID: "lock.unfinished-run", Verdict: "apply refuses while the journal's last run stopped after swapping",
		File: "upgrade/upgrade.go", Original: `last != nil && !last.Ended() && (last.Done["swap"] || last.Done["install"]) {`, Replacement: `false && last != nil && !last.Ended() && (last.Done["swap"] || last.Done["install"]) {`,
		Tests: []Step{upgradeUnit, e2e("^TestCrashAfterSwap$")},
		Why:   "a second apply would swap over a half-finished one, making the recorded backup the wrong binary",
	},
	{
		ID: "lock.held", Verdict: "a second liveswap cannot take the host's upgrade lock",
		File: "internal/host/state/state.go", Original: "syscall.LOCK_EX|syscall.LOCK_NB); err != nil {", Replacement: "syscall.LOCK_EX|syscall.LOCK_NB); false && err != nil {",
		Tests: []Step{unitTests("./internal/host/state"), e2e("^TestCrashAfterSwap$")},
		Why:   "two upgrades of one daemon at once: each would back up the other's binary",
	},

	// --- What a failed phase means: refused, failed or rolled back (upgrade.run.fail, the phases' fields).
	{
		ID: "fail.refused", Verdict: "a phase that fails before anything changed ends refused (exit 1)",
		File: "upgrade/upgrade.go", Original: "\t\tr.end(Refused)\n\t\treturn r.report\n\t}\n\t// A judging phase's", Replacement: "\t\tr.end(Failed)\n\t\treturn r.report\n\t}\n\t// A judging phase's",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRefusesBeforeTouching$")},
		Why:   "automation (the fleet playbook) tells 'try again later' from 'operator needed' by this",
	},
	{
		ID: "fail.swap-changes-host", Verdict: "the swap phase changes the host: its failure before any rename completed is failed, not refused",
		File: "upgrade/upgrade.go", Original: "ChangesHost: true, JournalSwaps: true, Run: noDetail(r.swap)", Replacement: "JournalSwaps: true, Run: noDetail(r.swap)",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRefusesBeforeTouching$")},
		Why:   "a swap that died halfway (a backup link made, the rename refused) would be reported as 'nothing was touched'",
	},
	{
		ID: "fail.not-started", Verdict: "a host-changing phase an interrupt kept from starting changed nothing: refused (exit 1), not failed",
		File: "upgrade/upgrade.go", Original: "if pe.Phase.ChangesHost && !pe.NotStarted {", Replacement: "if pe.Phase.ChangesHost {",
		Tests: []Step{upgradeUnit, e2e("^TestChaosApply$")},
		Why:   "an operator's Ctrl-C before the swap would page someone (exit 4) for a host nothing touched",
	},
	{
		ID: "fail.verify-unjudged", Verdict: "a verify that fails without naming interrupted workloads (the daemon is gone) is rolled back",
		File: "upgrade/upgrade.go", Original: "if pe.Phase.Judges && errors.Is(err, ErrInterrupted) {", Replacement: "if pe.Phase.Judges {",
		Tests: []Step{upgradeUnit, e2e("^TestChaosFaults$")},
		Why:   "a new daemon that dies right after ready would be left in place, down, as 'workloads were interrupted'",
	},
	{
		ID: "interrupt.finish-after-change", Verdict: "once a phase that changes the host started, an interrupt no longer stops the run",
		File: "upgrade/phase.go", Original: "\t\tctx = context.WithoutCancel(ctx)", Replacement: "\t\t_ = context.WithoutCancel(ctx)",
		Tests: []Step{upgradeUnit, e2e("^TestChaosApply$")},
		Why:   "Ctrl-C during the restart would leave the new binary on disk and the old daemon's successor half-checked",
	},
	{
		ID: "fail.verify-judges", Verdict: "a verify failure is a verdict on the workloads: failed (exit 4), not rolled back",
		File: "upgrade/upgrade.go", Original: "ChangesHost: true, Judges: true, Run: noDetail(r.verify)", Replacement: "ChangesHost: true, Run: noDetail(r.verify)",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")},
		Why:   "interrupted workloads would be answered with a second restart (the rollback) and exit 3 'undone'",
	},
	{
		ID: "fail.policy-never", Verdict: "policy.rollback: never leaves the new binary and ends failed",
		File: "upgrade/upgrade.go", Original: `if r.plan.Policy.Rollback == "never" {`, Replacement: `if false && r.plan.Policy.Rollback == "never" {`,
		Tests: []Step{upgradeUnit, e2e("^(TestApplyRollsBack|TestRollbackPolicyNever)$")},
		Why:   "a plan that forbids the automatic rollback would get one anyway",
	},
	{
		ID: "fail.rollback-failed", Verdict: "a rollback that fails (or whose own verify finds interrupted workloads) ends failed (exit 4)",
		File: "upgrade/upgrade.go", Original: "[]Phase{r.rollbackPhase()}); rerr != nil {", Replacement: "[]Phase{r.rollbackPhase()}); false && rerr != nil {",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRollsBack$")},
		Why:   "a host left half-restored would be reported as exit 3 'undone, workloads verified'",
	},
	{
		ID: "fail.rolled-back", Verdict: "a failure after the swap, undone and verified, ends rolled-back (exit 3)",
		File: "upgrade/upgrade.go", Original: "r.end(RolledBack)", Replacement: "r.end(Failed)",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRollsBack$")},
		Why:   "a clean rollback would page an operator (exit 4) for nothing",
	},
	{
		ID: "rollback.verify", Verdict: "the rollback compares the containers with the snapshot after restarting the old daemon",
		File: "upgrade/upgrade.go", Original: "if r.before != nil {\n\t\tvar err error\n\t\tif after, err = TakeSnapshot(", Replacement: "if false {\n\t\tvar err error\n\t\tif after, err = TakeSnapshot(",
		Tests: []Step{upgradeUnit, e2e("^(TestApplyRollsBack|TestCrashAfterSwap)$")},
		Why:   "the rollback's own restart could kill the workloads and still be reported as verified",
	},

	// --- Exit codes: upgrade.Result.ExitCode and the commands that use it.
	{
		ID: "exit.upgraded", Verdict: "upgraded exits 0",
		File: "upgrade/report.go", Original: "case Upgraded, Enabled, AlreadyEnabled, Planned, Reverted:", Replacement: "case Enabled, AlreadyEnabled, Planned, Reverted:",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")}, Why: "scripts and the fleet playbook read success from the exit status",
	},
	{
		ID: "exit.enabled", Verdict: "enabled exits 0",
		File: "upgrade/report.go", Original: "case Upgraded, Enabled, AlreadyEnabled, Planned, Reverted:", Replacement: "case Upgraded, AlreadyEnabled, Planned, Reverted:",
		Tests: []Step{upgradeUnit, cmdUnit}, Why: "enable-live-restore's success would look like 'operator needed'",
	},
	{
		ID: "exit.already-enabled", Verdict: "already-enabled exits 0",
		File: "upgrade/report.go", Original: "case Upgraded, Enabled, AlreadyEnabled, Planned, Reverted:", Replacement: "case Upgraded, Enabled, Planned, Reverted:",
		Tests: []Step{upgradeUnit, cmdUnit}, Why: "a second, idempotent run of enable-live-restore would fail configuration management",
	},
	{
		ID: "exit.planned", Verdict: "a dry run (planned) exits 0",
		File: "upgrade/report.go", Original: "case Upgraded, Enabled, AlreadyEnabled, Planned, Reverted:", Replacement: "case Upgraded, Enabled, AlreadyEnabled, Reverted:",
		Tests: []Step{upgradeUnit, cmdUnit}, Why: "every dry run would fail CI",
	},
	{
		ID: "exit.reverted", Verdict: "a rollback that restored and verified (reverted) exits 0",
		File: "upgrade/report.go", Original: "case Upgraded, Enabled, AlreadyEnabled, Planned, Reverted:", Replacement: "case Upgraded, Enabled, AlreadyEnabled, Planned:",
		Tests: []Step{upgradeUnit, e2e("^TestRollbackAfterUpgrade$")}, Why: "every successful manual rollback would page an operator",
	},
	{
		ID: "exit.refused", Verdict: "refused exits 1",
		File: "upgrade/report.go", Original: "case Refused:\n\t\treturn 1", Replacement: "case Refused:\n\t\treturn 4",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRefusesBeforeTouching$")}, Why: "'nothing was touched, retry later' would read as 'operator needed'",
	},
	{
		ID: "exit.rolled-back", Verdict: "rolled-back exits 3",
		File: "upgrade/report.go", Original: "case RolledBack, Restored:", Replacement: "case Restored:",
		Tests: []Step{upgradeUnit, e2e("^TestApplyRollsBack$")}, Why: "an undone upgrade would read as 'operator needed'",
	},
	{
		ID: "exit.restored", Verdict: "restored (enable-live-restore undone) exits 3",
		File: "upgrade/report.go", Original: "case RolledBack, Restored:", Replacement: "case RolledBack:",
		Tests: []Step{upgradeUnit, cmdUnit}, Why: "an undone enable-live-restore would read as 'operator needed'",
	},
	{
		ID: "exit.failed", Verdict: "failed (operator needed) exits 4",
		File: "upgrade/report.go", Original: "\treturn 4\n}", Replacement: "\treturn 0\n}",
		Tests: []Step{upgradeUnit, e2e("^TestApply$")}, Why: "interrupted workloads would exit 0: the worst outcome reported as success",
	},
	{
		ID: "exit.apply-command", Verdict: "`liveswap apply` exits with the report's code",
		File: "cmd/liveswap/apply.go", Original: "if code := rep.ExitCode(); code != 0 {", Replacement: "if code := rep.ExitCode(); false && code != 0 {",
		Tests: []Step{cmdUnit, e2e("^TestApply$")}, Why: "every apply would exit 0 whatever happened",
	},
	{
		ID: "exit.enable-command", Verdict: "`liveswap enable-live-restore` exits with the result's code",
		File: "cmd/liveswap/enable_live_restore.go", Original: "if code := res.Result.ExitCode(); code != 0 {", Replacement: "if code := res.Result.ExitCode(); false && code != 0 {",
		Tests: []Step{cmdUnit, e2e("^TestEnableLiveRestoreRestores$")}, Why: "every enable-live-restore would exit 0",
	},
	{
		ID: "exit.rollback-command", Verdict: "`liveswap rollback` exits with its result's code (0 only when reverted and verified)",
		File: "cmd/liveswap/ops.go", Original: "if code := rep.ExitCode(); code != 0 {", Replacement: "if code := rep.ExitCode(); false {",
		Tests: []Step{cmdUnit, e2e("^(TestCrashAfterSwap|TestRollbackPolicyNever)$")}, Why: "a failed manual rollback would exit 0",
	},
	{
		ID: "exit.preflight-command", Verdict: "`liveswap preflight` exits 1 when a check fails",
		File: "cmd/liveswap/preflight.go", Original: "if rep.Failed() {", Replacement: "if false && rep.Failed() {",
		Tests: []Step{cmdUnit, e2e("^TestPreflightLiveswapd$")}, Why: "preflight as a CI gate would always pass",
	},
	{
		ID: "exit.validate-command", Verdict: "`liveswap validate` exits 1 when the file does not pass",
		File: "cmd/liveswap/validate.go", Original: "if !rep.Passed() {\n\t\treturn &exitError{code: 1", Replacement: "if false && !rep.Passed() {\n\t\treturn &exitError{code: 1",
		Tests: []Step{cmdUnit, e2e("^TestValidateReadsUnitOverDBus$")}, Why: "validate as a pre-commit hook would let a daemon.json dockerd refuses through",
	},
	{
		ID: "exit.status-command", Verdict: "`liveswap status` exits 1 while the last run is unfinished",
		File: "cmd/liveswap/ops.go", Original: `if st.Run != "" && st.Result == "" {`, Replacement: `if false && st.Run != "" && st.Result == "" {`,
		Tests: []Step{cmdUnit, e2e("^TestCrashAfterSwap$")}, Why: "monitoring would not see a host left between two binaries",
	},
	{
		ID: "exit.verify-command", Verdict: "`liveswap verify` exits 1 when a container was interrupted",
		File: "cmd/liveswap/ops.go", Original: "if bad > 0 {", Replacement: "if false && bad > 0 {",
		Tests: []Step{cmdUnit, e2e("^(TestDemo|TestSnapshotVerify)$")}, Why: "a manual before/after comparison would always pass",
	},

	// --- The pre-flight runner.
	{
		ID: "checks.fail-refuses", Verdict: "a failed check fails the report (the upgrade is refused)",
		File: "checks/checks.go", Original: "if c.Status == Fail || (r.Strict && c.Status == Warn) {", Replacement: "if r.Strict && c.Status == Warn {",
		Tests: []Step{checksUnit, e2e("^TestPreflightLiveswapd$")}, Why: "no check could ever stop an upgrade",
	},
	{
		ID: "checks.strict", Verdict: "under --strict a warning fails the report",
		File: "checks/checks.go", Original: "if c.Status == Fail || (r.Strict && c.Status == Warn) {", Replacement: "if c.Status == Fail {",
		Tests: []Step{checksUnit, cmdUnit}, Why: "--strict (and policy strict) would be ignored",
	},
	{
		ID: "checks.panic-fails", Verdict: "a check that panics fails",
		File: "checks/checks.go", Original: `r = Result{Status: Fail, Message: fmt.Sprintf("check crashed: %v", p),`, Replacement: `r = Result{Status: OK, Message: fmt.Sprintf("check crashed: %v", p),`,
		Tests: []Step{checksUnit}, Why: "a crashing check would pass silently",
	},
	{
		ID: "checks.interrupted-fails", Verdict: "a check not run because the run was interrupted fails",
		File: "checks/checks.go", Original: `r = Result{Status: Fail, Message: "not run: " + err.Error()}`, Replacement: `r = Result{Status: Skip, Message: "not run: " + err.Error()}`,
		Tests: []Step{checksUnit, cmdUnit}, Why: "an interrupted pre-flight would pass with the checks it did not run",
	},
	{
		ID: "checks.blocked-fails", Verdict: "a check whose dependency was skipped (not failed) reports the failure itself",
		File: "checks/env.go", Original: `return fail("fix the cause, or --skip this check", "%v", err)`, Replacement: `return warn("fix the cause, or --skip this check", "%v", err)`,
		Tests: []Step{checksUnit}, Why: "skipping one check (--skip unit.loaded) would hide the problems of every check after it",
	},

	// --- Pre-flight checks that fail: unit.*.
	{
		ID: "checks.unit.loaded", Verdict: "unit.loaded fails when the unit is not loaded",
		File: "checks/unit.go", Original: `return fail(remedyUnitName, "unit %s is %s in the %s manager"`, Replacement: `return warn(remedyUnitName, "unit %s is %s in the %s manager"`,
		Tests: []Step{checksUnit, cmdUnit}, Why: "an upgrade of a unit systemd does not know would go on to fail at the restart",
	},
	{
		ID: "checks.unit.loaded-unreachable", Verdict: "unit.loaded fails when systemd cannot be reached",
		File: "checks/unit.go", Original: `return fail(remedyUnitName, "%v", err)`, Replacement: `return warn(remedyUnitName, "%v", err)`,
		Tests: []Step{checksUnit, cmdUnit}, Why: "liveswap would start an upgrade it cannot restart",
	},
	{
		ID: "checks.unit.active", Verdict: "unit.active fails when the unit is not active",
		File: "checks/unit.go", Original: `return fail(fmt.Sprintf("start it first`, Replacement: `return warn(fmt.Sprintf("start it first`,
		Tests: []Step{checksUnit}, Why: "an upgrade of a stopped daemon has nothing to verify and would start it",
	},
	{
		ID: "checks.unit.kill-mode", Verdict: "unit.kill-mode fails for dockerd with KillMode=control-group or mixed",
		File: "checks/unit.go", Original: `return fail(remedy, "KillMode=%s: stopping %s kills every process in its cgroup`, Replacement: `return warn(remedy, "KillMode=%s: stopping %s kills every process in its cgroup`,
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "systemd's default KillMode kills the containers at the restart whatever live-restore says (FACTS.md)",
	},
	{
		ID: "checks.unit.kill-mode-in-unit", Verdict: "unit.kill-mode fails for liveswapd when a container process is in the unit's cgroup",
		File: "checks/unit.go", Original: `r := fail(remedy+"; or restart liveswapd`, Replacement: `r := warn(remedy+"; or restart liveswapd`,
		Tests: []Step{checksUnit, e2e("^(TestPreflightLiveswapd|TestLiveswapdScopesUnderBurst)$")}, Why: "a liveswapd whose containers did not get their own scope loses them at the restart",
	},
	{
		ID: "checks.unit.kill-mode-none", Verdict: "unit.kill-mode warns about KillMode=none",
		File: "checks/unit.go", Original: "switch u.KillMode {", Replacement: `switch strings.Replace(u.KillMode, "none", "process", 1) {`,
		Tests: []Step{checksUnit}, Why: "KillMode=none is deprecated and leaves stray processes after every stop",
	},
	{
		ID: "checks.unit.type", Verdict: "unit.type warns when Type is not notify",
		File: "checks/unit.go", Original: `if u.Type == "notify" || u.Type == "notify-reload" {`, Replacement: `if true || u.Type == "notify" || u.Type == "notify-reload" {`,
		Tests: []Step{checksUnit}, Why: "without notify the restart job ends before the daemon is ready",
	},
	{
		ID: "checks.unit.exec-reload", Verdict: "unit.exec-reload warns when ExecReload is missing",
		File: "checks/unit.go", Original: "if len(u.ExecReload) == 0 {", Replacement: "if false && len(u.ExecReload) == 0 {",
		Tests: []Step{checksUnit}, Why: "live-restore could then only be turned on by a restart that stops every container",
	},
	{
		ID: "checks.unit.restart", Verdict: "unit.restart warns about Restart=no",
		File: "checks/unit.go", Original: `if u.Restart == "" || u.Restart == "no" {`, Replacement: `if false && (u.Restart == "" || u.Restart == "no") {`,
		Tests: []Step{checksUnit}, Why: "a new daemon that crashes after the upgrade would stay down",
	},
	{
		ID: "checks.unit.timeout-stop-infinite", Verdict: "unit.timeout-stop warns about an infinite TimeoutStopSec",
		File: "checks/unit.go", Original: "case t <= 0 || t >= math.MaxUint64/1e6 || math.IsInf(t, 1):", Replacement: "case false && (t <= 0 || t >= math.MaxUint64/1e6 || math.IsInf(t, 1)):",
		Tests: []Step{checksUnit}, Why: "a daemon that hangs on stop would block the restart job forever",
	},
	{
		ID: "checks.unit.timeout-stop-short", Verdict: "unit.timeout-stop warns about a TimeoutStopSec under 10s",
		File: "checks/unit.go", Original: "case t < minStopTimeout:", Replacement: "case false && t < minStopTimeout:",
		Tests: []Step{checksUnit}, Why: "systemd would SIGKILL a daemon still saving its state",
	},

	// --- engine.*, binary.*, version.policy.
	{
		ID: "checks.engine.reachable", Verdict: "engine.reachable fails when the endpoint does not answer",
		File: "checks/daemon.go", Original: `return fail("start the daemon, or point --endpoint at its socket (unix:///path.sock)"`, Replacement: `return warn("start the daemon, or point --endpoint at its socket (unix:///path.sock)"`,
		Tests: []Step{checksUnit, cmdUnit}, Why: "an upgrade against the wrong socket would snapshot nothing and verify nothing",
	},
	{
		ID: "checks.engine.live-restore", Verdict: "engine.live-restore fails when the running daemon has live restore off",
		File: "checks/daemon.go", Original: "return fail(fmt.Sprintf(`set \"live-restore\": true in %s and reload the daemon (systemctl reload %s): it applies on SIGHUP", Replacement: "return warn(fmt.Sprintf(`set \"live-restore\": true in %s and reload the daemon (systemctl reload %s): it applies on SIGHUP",
		Tests: []Step{checksUnit, e2e("^TestPreflightLiveswapd$")}, Why: "stopping a daemon without live restore stops every container",
	},
	{
		ID: "checks.binary.exists", Verdict: "binary.exists fails when the current or new binary is missing",
		File: "checks/binary.go", Original: `return fail("check the paths: the current binary`, Replacement: `return warn("check the paths: the current binary`,
		Tests: []Step{checksUnit, cmdUnit}, Why: "the swap would fail halfway or back up nothing",
	},
	{
		ID: "checks.binary.file-checks", Verdict: "binary.regular/elf/executable/owner fail when their test finds a problem",
		File: "checks/binary.go", Original: `return fail(remedy, "%s", strings.Join(errs, "; "))`, Replacement: `return warn(remedy, "%s", strings.Join(errs, "; "))`,
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "a script, a foreign ELF or a file others can write would be installed as the daemon",
	},
	{
		ID: "checks.binary.regular", Verdict: "binary.regular refuses symlinks, folders, devices and FIFOs",
		File: "checks/binary.go", Original: "func regularFile(path string) error {\n", Replacement: "func regularFile(path string) error {\n\tif true {\n\t\treturn nil\n\t}\n",
		Tests: []Step{checksUnit}, Why: "what is checked must be what is copied: a symlink can change between the two",
	},
	{
		ID: "checks.binary.elf", Verdict: "binary.elf refuses scripts and ELFs for another machine",
		File: "checks/binary.go", Original: "func elfFor(path, goarch string) error {\n", Replacement: "func elfFor(path, goarch string) error {\n\tif true {\n\t\treturn nil\n\t}\n",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "a binary that cannot run here would become the daemon and the restart would fail",
	},
	{
		ID: "checks.binary.executable", Verdict: "binary.executable refuses a file without an execute bit",
		File: "checks/binary.go", Original: "func executable(path string) error {\n", Replacement: "func executable(path string) error {\n\tif true {\n\t\treturn nil\n\t}\n",
		Tests: []Step{checksUnit}, Why: "the restart would fail with permission denied",
	},
	{
		ID: "checks.binary.owner", Verdict: "binary.owner refuses files and folders others own or can write",
		File: "checks/binary.go", Original: "func rootOwned(path string) error {\n", Replacement: "func rootOwned(path string) error {\n\tif true {\n\t\treturn nil\n\t}\n",
		Tests: []Step{checksUnit}, Why: "whoever can write the file can replace what root installs between check and swap",
	},
	{
		ID: "checks.binary.sha256-mismatch", Verdict: "binary.sha256 fails when the checksum differs",
		File: "checks/binary.go", Original: "case want != sum:", Replacement: "case false && want != sum:",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "a corrupted or tampered download would be installed",
	},
	{
		ID: "checks.binary.sha256-missing", Verdict: "binary.sha256 fails when no checksum was given",
		File: "checks/binary.go", Original: "case want == \"\":\n\t\treturn Fail", Replacement: "case false && want == \"\":\n\t\treturn Fail",
		Tests: []Step{checksUnit}, Why: "a checksum taken from the file itself (or none) proves nothing",
	},
	{
		ID: "checks.binary.version-gate", Verdict: "a new binary whose checksum fails is never executed (not even --version)",
		File: "checks/binary.go", Original: "if s, msg, _ := sha256Verdict(b, skipChecksum); s == Fail {", Replacement: "if s, msg, _ := sha256Verdict(b, skipChecksum); false && s == Fail {",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "liveswap, as root, would run an untrusted file",
	},
	{
		ID: "checks.binary.version-runs", Verdict: "binary.version fails when --version fails, hangs or prints no version",
		File: "checks/binary.go", Original: `return fail("fix the binary checks above first`, Replacement: `return warn("fix the binary checks above first`,
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "a binary that cannot report its version will not start either",
	},
	{
		ID: "checks.binary.version-expected", Verdict: "binary.version fails when the binary is not the plan's expectedVersion",
		File: "checks/binary.go", Original: `return fail("check that --new-binary is the release the plan expects`, Replacement: `return warn("check that --new-binary is the release the plan expects`,
		Tests: []Step{checksUnit, cmdUnit, e2e("^TestPlanThenApply$")}, Why: "the wrong release would be swapped in and only noticed (and rolled back) after a restart",
	},
	{
		ID: "checks.binary.backup-space", Verdict: "binary.backup-space fails when the folder lacks room for the staged copy",
		File: "checks/binary.go", Original: "if free < need[dir] {", Replacement: "if false && free < need[dir] {",
		Tests: []Step{checksUnit, e2e("^TestApplyRefusesBeforeTouching$")}, Why: "staging would fill the disk the daemon writes to",
	},
	{
		ID: "checks.version.policy-minor", Verdict: "version.policy fails a minor jump beyond the documented path",
		File: "checks/version.go", Original: "\t\t\treturn fail(remedy, \"%s\", msg)", Replacement: "\t\t\treturn warn(remedy, \"%s\", msg)",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "Docker supports live restore across patch releases only: containers may be left unmanaged",
	},
	{
		ID: "checks.version.policy-downgrade", Verdict: "version.policy fails a downgrade without --allow-downgrade",
		File: "checks/version.go", Original: `return fail("check --new-binary; if the downgrade is intended, pass "+flags`, Replacement: `return warn("check --new-binary; if the downgrade is intended, pass "+flags`,
		Tests: []Step{checksUnit}, Why: "an older daemon may not read the newer one's state",
	},
	{
		ID: "checks.version.policy-downgrade-minor", Verdict: "version.policy fails a downgrade across minors without --allow-minor too",
		File: "checks/version.go", Original: `need, granted = append(need, "--allow-minor"), granted && allow.Minor`, Replacement: `need = append(need, "--allow-minor")`,
		Tests: []Step{checksUnit}, Why: "one flag would allow two risks",
	},
	{
		ID: "checks.version.policy-major", Verdict: "version.policy fails a major jump without --allow-major (--allow-minor does not admit it)",
		File: "checks/version.go", Original: `return fail("pass --allow-major after`, Replacement: `return warn("pass --allow-major after`,
		Tests: []Step{checksUnit, e2e("^TestStackMajorUpgrade$")}, Why: "Debian stable to the next would pass unasked: containers may be left unmanaged",
	},
	{
		ID: "checks.version.policy-unparsable", Verdict: "version.policy fails when the running version cannot be read",
		File: "checks/version.go", Original: `return fail("make sure the endpoint is the daemon being upgraded, "+skipHint`, Replacement: `return warn("make sure the endpoint is the daemon being upgraded, "+skipHint`,
		Tests: []Step{checksUnit}, Why: "a policy that cannot compare must not pass",
	},

	// --- daemon-json.*.
	{
		ID: "checks.daemon-json.valid", Verdict: "daemon-json.valid fails when the new daemon would refuse the file",
		File: "checks/daemon.go", Original: "return v.summarize(v.findings(append(conflictIDs, liveRestoreIDs...), false),", Replacement: "return v.summarize(nil,",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "the restart would leave the daemon down: every container unmanaged",
	},
	{
		ID: "checks.daemon-json.valid-unjudged", Verdict: "daemon-json.valid fails when no daemon binary could judge the file",
		File: "checks/daemon.go", Original: `return fail("check that the daemon binary runs on this host", "%v", u.err)`, Replacement: `return warn("check that the daemon binary runs on this host", "%v", u.err)`,
		Tests: []Step{checksUnit}, Why: "an unjudged file would pass as valid",
	},
	{
		ID: "checks.daemon-json.flag-conflict", Verdict: "daemon-json.flag-conflict fails when a setting is in the file and in ExecStart",
		File: "checks/daemon.go", Original: "return v.summarize(v.findings(conflictIDs, true),", Replacement: "return v.summarize(nil,",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "dockerd refuses to start with such a conflict: the restart would fail",
	},
	{
		ID: "checks.daemon-json.live-restore-finding", Verdict: "daemon-json.live-restore fails when the rules find live-restore off",
		File: "checks/daemon.go", Original: `return fail(remedy, "%s", describe(f, v.File))`, Replacement: `return warn(remedy, "%s", describe(f, v.File))`,
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "the upgrade would stop every container",
	},
	{
		ID: "checks.daemon-json.live-restore-off", Verdict: "daemon-json.live-restore fails when the daemon binary reports live-restore off",
		File: "checks/daemon.go", Original: "case !*v.LiveRestore:\n\t\treturn fail(remedy,", Replacement: "case !*v.LiveRestore:\n\t\treturn warn(remedy,",
		Tests: []Step{checksUnit, e2e("^TestPreflightLiveswapd$")}, Why: "the upgrade would stop every container",
	},
	{
		ID: "checks.daemon-json.dockerd-validate", Verdict: "daemon-json.dockerd-validate fails when dockerd --validate refuses the file",
		File: "checks/daemon.go", Original: "case daemonjson.Fail:\n\t\treturn fail(f.Remedy, \"%s\", f.Message)", Replacement: "case daemonjson.Fail:\n\t\treturn warn(f.Remedy, \"%s\", f.Message)",
		Tests: []Step{checksUnit}, Why: "dockerd 23+ would refuse the file at the restart although the rules passed it",
	},
	{
		ID: "rules.unknown-key", Verdict: "the daemon.json rules fail an unknown key",
		File: "checks/daemonjson/daemonjson.go", Original: "if c.rs.known(d.key) || reported[d.key] {", Replacement: "if true || c.rs.known(d.key) || reported[d.key] {",
		Tests: []Step{rulesUnit, checksUnit}, Why: "dockerd refuses a file with an unknown key: the restart would fail",
	},
	{
		ID: "rules.flag-conflict", Verdict: "the daemon.json rules fail a key also set as an ExecStart flag",
		File: "checks/daemonjson/flags.go", Original: `if n == "" || !ok || n == "runtimes" || done[n] {`, Replacement: `if true || n == "" || !ok || n == "runtimes" || done[n] {`,
		Tests: []Step{rulesUnit, checksUnit}, Why: "dockerd refuses to start when a setting is in both places",
	},
	{
		ID: "rules.swarm-live-restore", Verdict: "the daemon.json rules fail live-restore in swarm mode",
		File: "checks/daemonjson/values.go", Original: "if c.opts.Swarm {\n\t\tif lr {", Replacement: "if c.opts.Swarm {\n\t\tif false && lr {",
		Tests: []Step{rulesUnit, lrUnit}, Why: "dockerd exits at start-up with live-restore in swarm mode",
	},
	{
		ID: "rules.default-bridge", Verdict: "the daemon.json rules fail default-bridge values dockerd refuses when it creates the bridge (bip, fixed-cidr, gateways, IPv6 subnet, MTU range)",
		File: "checks/daemonjson/network.go", Original: "if !c.bridgeCreated() {\n\t\treturn\n\t}\n\tvar bipNet", Replacement: "if true || !c.bridgeCreated() {\n\t\treturn\n\t}\n\tvar bipNet",
		Tests: []Step{rulesUnit}, Why: "validate would pass a file whose daemon exits creating its default bridge: the restart after the swap would fail",
	},
	{
		ID: "rules.registry-mirrors", Verdict: "the daemon.json rules fail registry mirrors dockerd refuses (no scheme, credentials, query; a path before 23)",
		File: "checks/daemonjson/network.go", Original: `if msg := mirrorError(n.str, c.modern()); msg != "" {`, Replacement: `if msg := mirrorError(n.str, c.modern()); msg != "" && false {`,
		Tests: []Step{rulesUnit}, Why: "a mirror without https:// stops dockerd at start-up, after the old daemon is gone",
	},
	{
		ID: "rules.storage-driver", Verdict: "the daemon.json rules fail storage drivers the release cannot initialise (removed in 23, not built by Debian)",
		File: "checks/daemonjson/storage.go", Original: "if !c.storageDrivers()[driver] {", Replacement: "if false && !c.storageDrivers()[driver] {",
		Tests: []Step{rulesUnit}, Why: "an upgrade to 23+ with devicemapper, aufs or overlay would leave dockerd unable to start",
	},
	{
		ID: "rules.host", Verdict: "daemon-json.host fails what the file names and this host lacks (TLS files, userns user, group, plugins, sockets, file systems)",
		File: "checks/daemonjson/host.go", Original: "f := Finding{ID: IDHost, Severity: Fail,", Replacement: "f := Finding{ID: IDHost, Severity: Warn,",
		Tests: []Step{rulesUnit}, Why: "a missing certificate or remap user would stop dockerd at the restart while pre-flight passed",
	},
	{
		ID: "rules.starts", Verdict: "a file with a failure does not start the daemon (validate's and enable-live-restore's verdict)",
		File: "checks/daemonjson/daemonjson.go", Original: "if f.Severity == Fail && !f.Strict {", Replacement: "if false && f.Severity == Fail && !f.Strict {",
		Tests: []Step{rulesUnit, cmdUnit}, Why: "validate would say the daemon starts with a file it refuses",
	},

	// --- workload.*, host.*.
	{
		ID: "checks.workload.health-restarting", Verdict: "workload.health fails when a container is restarting",
		File: "checks/workload.go", Original: "case c.State != nil && c.State.Restarting:", Replacement: "case false && c.State != nil && c.State.Restarting:",
		Tests: []Step{checksUnit}, Why: "after the upgrade nobody could tell whether it broke the container",
	},
	{
		ID: "checks.workload.health-unhealthy", Verdict: "workload.health fails when a container is unhealthy",
		File: "checks/workload.go", Original: `case healthStatus(c) == "unhealthy":`, Replacement: `case false && healthStatus(c) == "unhealthy":`,
		Tests: []Step{checksUnit}, Why: "after the upgrade nobody could tell whether it broke the container",
	},
	{
		ID: "checks.workload.restart-policy", Verdict: "workload.restart-policy warns about containers without a restart policy",
		File: "checks/workload.go", Original: `if p := restartPolicy(c); p == "" || p == "no" {`, Replacement: `if p := restartPolicy(c); false && (p == "" || p == "no") {`,
		Tests: []Step{checksUnit}, Why: "they stay down if the daemon has to restart them",
	},
	{
		ID: "checks.workload.healthcheck", Verdict: "workload.healthcheck warns about containers without a healthcheck",
		File: "checks/workload.go", Original: "if !hasHealthcheck(c) {", Replacement: "if false && !hasHealthcheck(c) {",
		Tests: []Step{checksUnit}, Why: "the daemon cannot tell whether they still serve",
	},
	{
		ID: "checks.workload.log-rate", Verdict: "workload.log-rate warns about a container that fills its 64 KiB pipe within the downtime",
		File: "checks/workload.go", Original: "if len(risky) > 0 {", Replacement: "if false && len(risky) > 0 {",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "such a container blocks on its next write while dockerd is down",
	},
	{
		ID: "checks.workload.log-risk", Verdict: "LogRisk: a rate that fills the pipe within the downtime is risky",
		File: "checks/workload.go", Original: "return full, full <= downtime", Replacement: "return full, false",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "the log-rate warning could never fire",
	},
	{
		ID: "checks.host.self-in-container", Verdict: "host.self-in-container fails when liveswap runs in a container of the daemon",
		File: "checks/host.go", Original: `return fail("run liveswap on the host (or in a container of another daemon)`, Replacement: `return warn("run liveswap on the host (or in a container of another daemon)`,
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "the upgrade would stop liveswap itself halfway, after the swap",
	},
	{
		ID: "checks.host.self-inside-rules", Verdict: "selfInside finds liveswap's own container (cgroup, mounts, hostname, PID namespace)",
		File: "checks/host.go", Original: "func selfInside(ctrs []ctrProc, daemonPID int) (string, string) {\n", Replacement: "func selfInside(ctrs []ctrProc, daemonPID int) (string, string) {\n\tif true {\n\t\treturn \"\", \"\"\n\t}\n",
		Tests: []Step{checksUnit, e2e("^TestPreflightDockerd$")}, Why: "the self-in-container check could never fire",
	},
	{
		ID: "checks.host.package-automation", Verdict: "host.package-automation warns when needrestart or unattended-upgrades may restart the daemon",
		File: "checks/host.go", Original: "if len(warnings) > 0 {", Replacement: "if false && len(warnings) > 0 {",
		Tests: []Step{checksUnit}, Why: "a package upgrade would restart the daemon behind the operator's back",
	},
	{
		ID: "checks.host.lock", Verdict: "host.lock fails while another upgrade holds the lock",
		File: "checks/host.go", Original: `return fail("wait for the other upgrade to end (liveswap status shows it); one upgrade per host",`, Replacement: `return warn("wait for the other upgrade to end (liveswap status shows it); one upgrade per host",`,
		Tests: []Step{checksUnit, e2e("^TestCrashAfterSwap$")}, Why: "pre-flight would pass an upgrade that cannot take the lock",
	},
	{
		ID: "checks.host.lock-target", Verdict: "host.lock fails while another upgrade, with another state folder, holds a unit or file of the plan",
		File: "checks/host.go", Original: "return fail(\"wait for the other upgrade to end (`liveswap status --state-dir \"+by.StateDir", Replacement: "return warn(\"wait for the other upgrade to end (`liveswap status --state-dir \"+by.StateDir",
		Tests: []Step{checksUnit, e2e("^TestOneTargetTwoStateDirs$")}, Why: "pre-flight would pass a second upgrade of a daemon another state folder's run is changing",
	},
	{
		ID: "checks.host.journal", Verdict: "host.journal fails when the journal records an unfinished upgrade",
		File: "checks/host.go", Original: "return fail(\"see `liveswap status`, then finish it", Replacement: "return warn(\"see `liveswap status`, then finish it",
		Tests: []Step{checksUnit, e2e("^TestCrashAfterSwap$")}, Why: "a new upgrade would start over a half-finished one",
	},

	// --- enable-live-restore (upgrade/liverestore).
	{
		ID: "liverestore.blocking-checks", Verdict: "enable-live-restore refuses when unit.loaded, unit.active or engine.reachable fails",
		File: "upgrade/liverestore/liverestore.go", Original: "if slices.Contains(blocking, c.ID) && c.Status == checks.Fail {", Replacement: "if false && slices.Contains(blocking, c.ID) && c.Status == checks.Fail {",
		Tests: []Step{lrUnit, e2e("^(TestEnableLiveRestore|TestEnableLiveRestoreRestores|TestEnableLiveRestoreFailures)$")}, Why: "a reload could not be done or confirmed: it would write the file and fail after",
	},
	{
		ID: "liverestore.no-exec-reload", Verdict: "enable-live-restore refuses a unit without ExecReload",
		File: "upgrade/liverestore/liverestore.go", Original: "if len(u.ExecReload) == 0 {", Replacement: "if false && len(u.ExecReload) == 0 {",
		Tests: []Step{lrUnit, e2e("^(TestEnableLiveRestore|TestEnableLiveRestoreRestores|TestEnableLiveRestoreFailures)$")}, Why: "the reload would do nothing (or systemd would refuse it) with the new file already written",
	},
	{
		ID: "liverestore.config-file", Verdict: "enable-live-restore refuses when the unit reads another daemon.json",
		File: "upgrade/liverestore/liverestore.go", Original: `cf != "" && cf != path {`, Replacement: `false && cf != "" && cf != path {`,
		Tests: []Step{lrUnit, e2e("^(TestEnableLiveRestore|TestEnableLiveRestoreRestores|TestEnableLiveRestoreFailures)$")}, Why: "it would edit a file the daemon never reads",
	},
	{
		ID: "liverestore.invalid-candidate", Verdict: "enable-live-restore refuses a daemon.json the daemon would not accept",
		File: "upgrade/liverestore/liverestore.go", Original: "if !v.Starts {", Replacement: "if false && !v.Starts {",
		Tests: []Step{lrUnit, e2e("^TestEnableLiveRestore$")}, Why: "a reload that fails to parse the file keeps the old settings silently; the next restart fails",
	},
	{
		ID: "liverestore.candidate-fails", Verdict: "ValidateCandidate: a failing finding means the daemon would not start",
		File: "upgrade/liverestore/validate.go", Original: "case daemonjson.Fail:\n\t\tv.Starts = false", Replacement: "case daemonjson.Fail:",
		Tests: []Step{lrUnit, e2e("^TestEnableLiveRestore$")}, Why: "every refusal of the rules and of --validate would be ignored",
	},
	{
		ID: "liverestore.unjudged", Verdict: "ValidateCandidate: a liveswapd file no binary can judge is refused",
		File: "upgrade/liverestore/validate.go", Original: "v.add(daemonjson.Finding{ID: daemonjson.IDValid, Severity: daemonjson.Fail,\n\t\t\t\tMessage: fmt.Sprintf(\"no %s binary can judge", Replacement: "v.add(daemonjson.Finding{ID: daemonjson.IDValid, Severity: daemonjson.Warn,\n\t\t\t\tMessage: fmt.Sprintf(\"no %s binary can judge",
		Tests: []Step{lrUnit}, Why: "a file would be applied unjudged",
	},
	{
		ID: "liverestore.already-enabled", Verdict: "a daemon that already has live restore on is left alone (already-enabled)",
		File: "upgrade/liverestore/liverestore.go", Original: "if st.LiveRestore {\n\t\tr.LiveRestoreAfter = true", Replacement: "if false && st.LiveRestore {\n\t\tr.LiveRestoreAfter = true",
		Tests: []Step{lrUnit, e2e("^TestEnableLiveRestore$")}, Why: "every run would rewrite the file and reload the daemon",
	},
	{
		ID: "liverestore.confirm", Verdict: "the reload is confirmed only when the Engine API reports live restore on",
		File: "upgrade/liverestore/liverestore.go", Original: "if err == nil && st.LiveRestore {", Replacement: "if err == nil && (st.LiveRestore || true) {",
		Tests: []Step{lrUnit, e2e("^TestEnableLiveRestoreRestores$")}, Why: "a reload that did not apply live-restore would be reported as enabled",
	},
	{
		ID: "liverestore.confirm-unit-active", Verdict: "the unit must still be active after the reload",
		File: "upgrade/liverestore/liverestore.go", Original: "if u.ActiveState != \"active\" {\n\t\t\t\treturn \"\", fmt.Errorf(\"unit %s is %s/%s after the reload", Replacement: "if false && u.ActiveState != \"active\" {\n\t\t\t\treturn \"\", fmt.Errorf(\"unit %s is %s/%s after the reload",
		Tests: []Step{lrUnit, e2e("^(TestEnableLiveRestore|TestEnableLiveRestoreRestores|TestEnableLiveRestoreUnitStops)$")}, Why: "a daemon that died on the reload would be reported as enabled",
	},
	{
		ID: "liverestore.verify", Verdict: "enable-live-restore compares the containers and reads the probes after the reload",
		File: "upgrade/liverestore/liverestore.go", Original: "return upgrade.Judge(x.r.Containers, x.r.Probes, x.p.Policy.MaxProbeFailures)", Replacement: "return nil",
		Tests: []Step{lrUnit, e2e("^(TestEnableLiveRestore|TestEnableLiveRestoreRestores)$")}, Why: "a reload that restarted containers would be reported as enabled, exit 0",
	},
	{
		ID: "liverestore.restore-failed", Verdict: "a restore of the old daemon.json that fails ends failed (exit 4)",
		File: "upgrade/liverestore/liverestore.go", Original: "case rerr != nil:", Replacement: "case false && rerr != nil:",
		Tests: []Step{lrUnit, e2e("^(TestEnableLiveRestore|TestEnableLiveRestoreRestores|TestEnableLiveRestoreFailures)$")}, Why: "a host left with the new file would be reported as restored (exit 3)",
	},
	{
		ID: "liverestore.interrupted", Verdict: "containers interrupted during a failed enable end failed (exit 4)",
		File: "upgrade/liverestore/liverestore.go", Original: "case interrupted != nil:", Replacement: "case false && interrupted != nil:",
		Tests: []Step{lrUnit, e2e("^(TestEnableLiveRestore|TestEnableLiveRestoreRestores)$")}, Why: "interrupted workloads would be reported as 'restored, fix the cause and run again'",
	},
	{
		ID: "liverestore.restored", Verdict: "a failed step, undone and reloaded, ends restored (exit 3)",
		File: "upgrade/liverestore/liverestore.go", Original: "return Restored", Replacement: "return Failed",
		Tests: []Step{lrUnit, e2e("^TestEnableLiveRestoreRestores$")}, Why: "a clean undo would page an operator",
	},
	{
		ID: "liveswapd.refuse-unhonoured", Verdict: "liveswapd refuses a create request field it does not honour, naming its flag",
		File: "runtime/surface.go", Original: "if set(f.Name, v.Field(i)) {", Replacement: "if false && set(f.Name, v.Field(i)) {",
		Tests: []Step{unitRun("./runtime", "^TestRefuseUnsupported$"), e2e("^TestLiveswapdRefusesUnhonouredFlags$")}, Why: "--memory, --device, --dns ... would be accepted, shown by inspect and ignored",
	},
	{
		ID: "liveswapd.host-image-opt-in", Verdict: "liveswapd runs image host only with allow-host-image",
		File: "runtime/isolation.go", Original: "if !d.Config().AllowHostImage {", Replacement: "if false && !d.Config().AllowHostImage {",
		Tests: []Step{e2e("^TestLiveswapdRefusesUnhonouredFlags$")}, Why: "an unisolated container would run without anyone having asked for it",
	},
	{
		ID: "liveswapd.pid-namespace", Verdict: "a root folder image runs in its own PID namespace",
		File: "runtime/oci/spec.go", Original: "ns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, ", Replacement: "ns := []specs.LinuxNamespace{",
		Tests: []Step{unitRun("./runtime/oci", "^TestBuild$"), e2e("^TestLiveswapdIsolation$")}, Why: "a container would see and signal the host's processes",
	},
	{
		ID: "liveswapd.no-new-privileges", Verdict: "a root folder image runs with no-new-privileges",
		File: "runtime/oci/spec.go", Original: "NoNewPrivileges: true,", Replacement: "NoNewPrivileges: false,",
		Tests: []Step{unitRun("./runtime/oci", "^TestBuild$"), e2e("^TestLiveswapdIsolation$")}, Why: "a setuid binary in the image would regain privileges",
	},
	{
		ID: "liveswapd.shim-trusted", Verdict: "liveswapd starts a container only with a root-owned liveswapd-shim beside it, else refuses naming the file and the remedy",
		File: "runtime/shimbin.go", Original: "if !d.shimBeside {", Replacement: "if true {",
		Tests: []Step{unitRun("./runtime", "^TestShimBinary$")}, Why: "a missing shim would fail with a bare ENOENT, and one others can write would run their code as root beside every new container",
	},
	{
		ID: "liveswapd.oom-killed", Verdict: "a container killed at its memory limit is reported OOMKilled",
		File: "runtime/shim/main.go", Original: "s.oom = s.oomKilled()", Replacement: "s.oom = false",
		Tests: []Step{e2e("^TestLiveswapdIsolation$")}, Why: "inspect would hide why the container died (exit 137)",
	},
	{
		ID: "liveswapd.image-whiteout", Verdict: "docker load honours a layer's whiteouts",
		File: "runtime/image/layer.go", Original: "case strings.HasPrefix(base, whiteoutPrefix):", Replacement: "case false && strings.HasPrefix(base, whiteoutPrefix):",
		Tests: []Step{unitRun("./runtime/image", "^TestLoadDockerSaveWhiteouts$"), e2e("^TestLiveswapdImages$")}, Why: "a file an upper layer deleted would come back in every container of the image",
	},
	{
		ID: "liveswapd.image-diff-id", Verdict: "docker load refuses a layer whose digest is not the config's",
		File: "runtime/image/load.go", Original: "if want := cfg.RootFS.DiffIDs[i].String(); diffID != want {", Replacement: "if want := cfg.RootFS.DiffIDs[i].String(); false && diffID != want {",
		Tests: []Step{unitRun("./runtime/image", "^TestLoadRefusesBadArchives$")}, Why: "a corrupt or swapped layer would be stored under the image's ID",
	},
	{
		ID: "liveswapd.attach-awaits-run", Verdict: "an attach made before start streams the run that follows",
		File: "runtime/api/attach.go", Original: "if o.Follow && !d.AwaitRun(ctx, c, gen) {", Replacement: "if _ = gen; o.Follow && false {",
		Tests: []Step{e2e("^TestLiveswapdAttachExec$")}, Why: "a foreground docker run would print nothing",
	},
	{
		ID: "liveswapd.exec-stdin-eof", Verdict: "exec -i: the client's end of input closes the command's stdin",
		File: "runtime/exec.go", Original: "\t\t\tio.Copy(stdin, streams.In)\n\t\t\tstdin.Close()", Replacement: "\t\t\tio.Copy(stdin, streams.In)\n\t\t\t_ = stdin",
		Tests: []Step{unitRun("./runtime/api", "^TestExecTerminalAndStdin$"), e2e("^TestLiveswapdExecTTY$|^TestLiveswapdPythonSDK$")}, Why: "echo hi | docker exec -i C cat would never end",
	},
	{
		ID: "liveswapd.exec-resize", Verdict: "POST /exec/ID/resize sets the window size of a -t session's terminal",
		File: "runtime/exec_tty.go", Original: "if err := pty.Setsize(s.master, &size); err != nil {", Replacement: "if err := error(nil); err != nil {",
		Tests: []Step{unitRun("./runtime", "^TestExecResize$"), unitRun("./runtime/api", "^TestExecTerminalAndStdin$"), e2e("^TestLiveswapdExecTTY$")}, Why: "a shell or editor in docker exec -it would draw for the wrong window size",
	},
	{
		ID: "liveswapd.exec-sweep", Verdict: "a restarted daemon removes the folders of the exec sessions the last one left",
		File: "runtime/exec.go", Original: `if err := os.RemoveAll(filepath.Join(d.cfg.ExecRoot, "execs")); err != nil {`, Replacement: `if err := error(nil); err != nil {`,
		Tests: []Step{e2e("^TestLiveswapdExecTTY$")}, Why: "each exec session open across a restart would leave a folder in exec-root",
	},
	{
		ID: "liveswapd.exec-end", Verdict: "a daemon that stops or restarts ends its exec sessions' commands, not only their streams",
		File: "runtime/exec.go", Original: "if pid, ok := execLeftover(filepath.Join(root, e.Name(), \"pid\")); ok && syscall.Kill(pid, syscall.SIGKILL) == nil {", Replacement: "if pid, ok := execLeftover(filepath.Join(root, e.Name(), \"pid\")); ok && pid < 0 {",
		Tests: []Step{e2e("^TestLiveswapdUpgradeUnderLoad$")},
		Why:   "a `docker exec C sleep 1d` cut by an upgrade would run on in the container, out of every client's reach",
	},
	{
		ID: "liveswapd.unhealthy-after-retries", Verdict: "a container is unhealthy after retries failed checks in a row",
		File: "runtime/health/health.go", Original: "if h.FailingStreak >= retries {", Replacement: "if h.FailingStreak >= retries+1000 {",
		Tests: []Step{unitRun("./runtime/health", "^TestApply$"), e2e("^TestLiveswapdHealthchecks$")}, Why: "a failing service would show as starting forever",
	},
	{
		ID: "liveswapd.unserved-route-501", Verdict: "a route liveswapd does not serve answers 501 naming it",
		File: "runtime/api/api.go", Original: `mux.HandleFunc("/", notImplemented)`, Replacement: `mux.HandleFunc("/", http.NotFound)`,
		Tests: []Step{unitRun("./runtime/api", "^TestAPIRefusals$"), e2e("^TestLiveswapdAttachExec$")}, Why: "SDKs read 404 as the container being gone",
	},
	{
		ID: "liveswapd.volumes-list", Verdict: "GET /volumes is the empty list: liveswapd makes no volumes",
		File: "runtime/api/volumes.go", Original: "writeJSON(w, http.StatusOK, volume.ListResponse{Volumes: []*volume.Volume{}, Warnings: []string{}})", Replacement: "writeJSON(w, http.StatusNotImplemented, volume.ListResponse{Warnings: []string{\"GET /volumes is not implemented\"}})",
		Tests: []Step{unitRun("./runtime/api", "^TestNetworksAndVolumes$"), e2e("^TestLiveswapdCompose$")}, Why: "compose down reads the project's volumes first and would stop there, leaving the project's containers running",
	},
	{
		ID: "liveswapd.networks-label-filter", Verdict: "GET /networks by a label lists none of the built-in networks",
		File: "runtime/api/networks.go", Original: `f.Contains("label") && !f.MatchKVList("label", nil),`, Replacement: `false,`,
		Tests: []Step{unitRun("./runtime/api", "^TestNetworksAndVolumes$"), e2e("^TestLiveswapdCompose$")}, Why: "compose down would take host and none for its project's networks",
	},
	{
		ID: "liveswapd.network-create-refused", Verdict: "POST /networks/create is refused naming network_mode: host",
		File: "runtime/api/networks.go", Original: "run it with --network host (compose: network_mode: host, no ports: or networks:)", Replacement: "see docs",
		Tests: []Step{unitRun("./runtime/api", "^TestNetworksAndVolumes$"), e2e("^TestLiveswapdCompose$")}, Why: "a compose file with ports: would fail with no word of the way out",
	},
	{
		ID: "liveswapd.stats-memory-limit", Verdict: "stats reports the container's cgroup memory limit",
		File: "runtime/api/stats.go", Original: `m.Limit = readUint(filepath.Join(dir("memory"), "memory.limit_in_bytes"))`, Replacement: `m.Limit = 0`,
		Tests: []Step{unitRun("./runtime/api", "^TestReadCgroup$"), e2e("^TestLiveswapdAttachExec$|^TestLiveswapdPythonSDK$")}, Why: "docker stats would show the host's memory as the limit of a container run with --memory",
	},
	{
		ID: "liveswapd.stats-precpu", Verdict: "a non-streamed stats sample carries the CPU figures of a second before",
		File: "runtime/api/stats.go", Original: "s.PreRead, s.PreCPUStats = prev.Read, prev.CPUStats\n\t\t\tprev = s", Replacement: "prev = s",
		Tests: []Step{e2e("^TestLiveswapdAttachExec$")}, Why: "docker stats --no-stream computes CPU % from the difference and would print 0.00%",
	},
}
