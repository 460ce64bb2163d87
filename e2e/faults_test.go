package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// faultd builds a stand-in for a broken new liveswapd (see testdata/faultd)
// that claims version 1.0.1-e2e.
func faultd(t *testing.T, mode, delegate string) string {
	t.Helper()
	ld := "-X main.version=1.0.1-e2e -X main.mode=" + mode
	if delegate != "" {
		ld += " -X main.delegate=" + delegate
	}
	return testbed.BuildPackage(t, "./e2e/testdata/faultd", "liveswapd", ld)
}

// faultDockerd is a new dockerd that exits at start; the real dockerd
// answers its --version and --validate, so pre-flight passes.
func faultDockerd(t *testing.T) string {
	t.Helper()
	return testbed.BuildPackage(t, "./e2e/testdata/faultd", "dockerd", "-X main.mode=exit -X main.delegate="+testbed.DockerdBin)
}

func daemonVersion(t *testing.T, host string) string {
	t.Helper()
	return strings.TrimSpace(testbed.DockerCLI(t, host, "version", "--format", "{{.Server.Version}}"))
}

// oldDaemon is what a test records of the running daemon before a run that
// must leave it as it was.
type oldDaemon struct{ version, sha string }

func recordOld(t *testing.T, dp *deployment) oldDaemon {
	t.Helper()
	return oldDaemon{version: daemonVersion(t, dp.host), sha: sha256Of(dp.current)}
}

// requireOldDaemon checks the old daemon answers (docker CLI) from the
// untouched old binary.
func requireOldDaemon(t *testing.T, dp *deployment, old oldDaemon) {
	t.Helper()
	if v := daemonVersion(t, dp.host); v != old.version {
		t.Errorf("docker version: the daemon reports %s, want the old %s", v, old.version)
	}
	if got := sha256Of(dp.current); got != old.sha {
		t.Errorf("target binary changed: sha256 %s, want %s", got, old.sha)
	}
}

// requireIntact checks a run left the old daemon running from the
// untouched old binary and interrupted nothing — as the witness w, watched
// around the run, saw it, not only as the report says. judged: the run got
// as far as comparing the containers with its snapshot (a rollback does),
// so its report must list both workloads, none interrupted. A run refused
// before that compares nothing: its report lists no container and no
// verify or rollback phase, and the witness alone proves them untouched.
func requireIntact(t *testing.T, dp *deployment, old oldDaemon, r *upgrade.Report, w *testbed.Witness, judged bool) {
	t.Helper()
	requireOldDaemon(t, dp, old)
	w.RequireUninterrupted(t)
	if !judged {
		for _, ph := range r.Phases {
			if ph.Name == "verify" || ph.Name == "rollback" {
				t.Errorf("a run refused before touching anything has a %s phase (%s)", ph.Name, ph.Status)
			}
		}
		if len(r.Containers) != 0 {
			t.Errorf("a run refused before touching anything compared %d containers", len(r.Containers))
		}
		t.Logf("refused before any comparison: the report lists no container; the witness alone proves both untouched")
		return
	}
	requireVerified(t, dp, r)
}

// requireVerified checks the report compared both workloads and found
// neither interrupted.
func requireVerified(t *testing.T, dp *deployment, r *upgrade.Report) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range r.Containers {
		seen[c.Name] = true
		if c.Interrupted {
			t.Errorf("report: container %s interrupted: %s", c.Name, c.Reason)
		}
	}
	if !seen[dp.web.Name] || !seen[dp.kv.Name] {
		t.Errorf("report compared %+v, want %s and %s", r.Containers, dp.web.Name, dp.kv.Name)
	}
}

// TestApplyRollsBack breaks the new binary in each way a real upgrade can
// break, on liveswapd and on dockerd, and expects exit 3: the old binary
// back in place and running, and the workloads verified by the rollback
// and by the test's witness. Its negative twin turns live restore off and
// forces the upgrade: the failed start stops the containers, and the
// rollback's own verify must say so (exit 4) as the witness does.
func TestApplyRollsBack(t *testing.T) {
	delegate := func(t *testing.T) string { return testbed.Build(t, "liveswapd", "1.0.1-e2e") }
	tests := []struct {
		kind        string
		name        string
		binary      func(t *testing.T) string
		policy      func(p *plan.Policy)
		liveRestore bool
		wantCode    int
		wantResult  upgrade.Result
		// wantReady is in the error of the ready phase when that phase is
		// the one that must catch the fault.
		wantReady string
	}{
		{plan.Liveswapd, "new binary exits at start", func(t *testing.T) string { return faultd(t, "exit", "") }, nil, true, 3, upgrade.RolledBack, ""},
		{plan.Liveswapd, "new binary never becomes ready", func(t *testing.T) string { return faultd(t, "hang", "") },
			func(p *plan.Policy) {
				p.ReadyTimeout, p.StopTimeout = plan.Duration(3*time.Second), plan.Duration(2*time.Second)
			}, true, 3, upgrade.RolledBack, ""},
		{plan.Liveswapd, "new binary reports another version", func(t *testing.T) string {
			return faultd(t, "exec", testbed.Build(t, "liveswapd", "1.0.2-e2e"))
		}, nil, true, 3, upgrade.RolledBack, ""},
		{plan.Docker, "new binary exits at start", faultDockerd, nil, true, 3, upgrade.RolledBack, ""},
		{plan.Liveswapd, "live restore off forced, new binary exits at start", func(t *testing.T) string { return faultd(t, "exit", "") },
			nil, false, 4, upgrade.Failed, ""},
		// A daemon that answers the right version while its unit is on its
		// way down (STOPPING=1 right after READY=1) is not the upgrade.
		{plan.Liveswapd, "new unit stops right after it is ready", func(t *testing.T) string { return faultd(t, "stop-after-ready", delegate(t)) },
			nil, true, 3, upgrade.RolledBack, "want active"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			dp := deploy(t, tt.kind, sd, tt.liveRestore)
			dp.newFile = tt.binary(t)
			old := recordOld(t, dp)
			p := dp.plan()
			if tt.policy != nil {
				tt.policy(&p.Policy)
			}
			args := []string{"apply", writePlan(t, p), "--yes", "--output", "json", "--state-dir", t.TempDir()}
			if !tt.liveRestore {
				args = append(args, "--force")
			}
			w := testbed.Watch(t, dp.host, dp.web, dp.kv)
			code, stdout, stderr := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(), args...)
			w.Stop(t)
			r := decodeReport(t, stdout)
			t.Logf("exit %d, result %s, error: %s\nstderr:\n%s", code, r.Result, r.Error, stderr)
			if code != tt.wantCode || r.Result != tt.wantResult {
				t.Fatalf("exit %d result %s, want %d %s\n%s", code, r.Result, tt.wantCode, tt.wantResult, stdout)
			}
			if tt.wantReady != "" {
				if got := phaseStatus(r.Phases, "ready"); got != upgrade.PhaseFailed || !strings.Contains(r.Error, tt.wantReady) {
					t.Errorf("ready phase %q, error %q; want the ready phase failed with %q", got, r.Error, tt.wantReady)
				}
			}
			wantRollback := upgrade.PhaseDone
			if !tt.liveRestore {
				wantRollback = upgrade.PhaseFailed // its verify found the containers gone
			}
			if got := phaseStatus(r.Phases, "rollback"); got != wantRollback {
				t.Errorf("rollback phase %q, want %q", got, wantRollback)
			}
			if tt.liveRestore {
				requireIntact(t, dp, old, r, w, true)
				return
			}
			// The old binary is back and runs, but the containers died with
			// the old daemon: the rollback's verify names both, and the
			// witness saw both go.
			requireOldDaemon(t, dp, old)
			if len(r.Containers) != 2 {
				t.Errorf("the rollback compared %d containers, want 2", len(r.Containers))
			}
			for _, c := range r.Containers {
				if !c.Interrupted {
					t.Errorf("report: container %s not interrupted, although the old daemon stopped it", c.Name)
				}
			}
			if !strings.Contains(r.Error, "interrupted: ") || !strings.Contains(r.Error, dp.web.Name) || !strings.Contains(r.Error, dp.kv.Name) {
				t.Errorf("error %q does not name both containers as interrupted", r.Error)
			}
			w.RequireInterrupted(t)
		})
	}
}

// phaseStatus is the status of the phase (or step) name, "" when it did not
// run.
func phaseStatus(phases []upgrade.PhaseReport, name string) string {
	for _, ph := range phases {
		if ph.Name == name {
			return ph.Status
		}
	}
	return ""
}

// TestRollbackAfterUpgrade: `liveswap rollback` after a successful apply
// restores the old binary and restarts it, with nothing interrupted. On
// dockerd the old and new binaries are the same release, so /proc tells
// them apart: the unit's main process must run the old file again.
func TestRollbackAfterUpgrade(t *testing.T) {
	for _, target := range deployers {
		t.Run(target.kind, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			dp := deploy(t, target.kind, sd, true)
			liveswap := testbed.Build(t, "liveswap", "e2e")
			old := recordOld(t, dp)
			oldFile := fileIDOf(t, dp.current)
			state := t.TempDir()

			w := testbed.Watch(t, dp.host, dp.web, dp.kv)
			code, stdout, _ := liveswapCLI(t, liveswap, sd.Env(), "apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", state)
			w.Stop(t)
			if r := decodeReport(t, stdout); code != 0 || r.Result != upgrade.Upgraded {
				t.Fatalf("apply: exit %d result %s error %s", code, r.Result, r.Error)
			}
			w.RequireUninterrupted(t)
			if got := runningFile(t, sd, dp.unit); got == oldFile {
				t.Fatalf("after the upgrade the unit's main process still runs the old file %v", got)
			}

			w = testbed.Watch(t, dp.host, dp.web, dp.kv)
			code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "rollback", "--yes", "--output", "json", "--state-dir", state)
			w.Stop(t)
			r := decodeReport(t, stdout)
			t.Logf("rollback: exit %d, result %s, error %q\n%s", code, r.Result, r.Error, stderr)
			if code != 0 || r.Result != upgrade.Reverted {
				t.Fatalf("rollback: exit %d result %s, want 0 reverted", code, r.Result)
			}
			requireIntact(t, dp, old, r, w, true)
			if got := runningFile(t, sd, dp.unit); got != oldFile {
				t.Errorf("/proc: the unit's main process runs file %v, want the old binary %v", got, oldFile)
			}
		})
	}
}

// fileID names a file by device and inode: a rename keeps it, a copy does
// not.
type fileID struct{ dev, ino uint64 }

func fileIDOf(t *testing.T, path string) fileID {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return fileID{uint64(sys.Dev), sys.Ino}
}

// runningFile is the file the unit's main process executes, read from
// /proc/PID/exe.
func runningFile(t *testing.T, sd *testbed.Systemd, unit string) fileID {
	t.Helper()
	pid := sd.MainPID(t, unit)
	if pid == 0 {
		t.Fatalf("unit %s has no main process", unit)
	}
	return fileIDOf(t, fmt.Sprintf("/proc/%d/exe", pid))
}

// TestApplyRefusesBeforeTouching: a checksum mismatch and a full disk while
// staging end with exit 1, the target binary intact and, as the witness
// saw it, nothing interrupted.
func TestApplyRefusesBeforeTouching(t *testing.T) {
	t.Run("checksum mismatch", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		dp := deploy(t, plan.Liveswapd, sd, true)
		old := recordOld(t, dp)
		p := dp.plan()
		p.Binaries[0].SHA256 = strings.Repeat("0", 64)
		w := testbed.Watch(t, dp.host, dp.web, dp.kv)
		code, stdout, _ := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(),
			"apply", writePlan(t, p), "--yes", "--output", "json", "--state-dir", t.TempDir())
		w.Stop(t)
		r := decodeReport(t, stdout)
		if code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, "sha256") {
			t.Fatalf("exit %d result %s error %q, want 1 refused naming sha256", code, r.Result, r.Error)
		}
		requireIntact(t, dp, old, r, w, false)
		if m, _ := filepath.Glob(dp.current + ".liveswap-new*"); len(m) > 0 {
			t.Errorf("staged file left behind: %v", m)
		}
	})
	t.Run("disk full while staging", func(t *testing.T) {
		testbed.Require(t, testbed.DockerBin)
		// The target binary lives on a tmpfs with room for itself only;
		// mounted before the manager starts so its namespace sees it too.
		bin := testbed.Build(t, "liveswapd", testbed.LiveswapdVersion)
		shim := filepath.Join(filepath.Dir(bin), "liveswapd-shim")
		st, _ := os.Stat(bin)
		shimSt, _ := os.Stat(shim)
		full, err := os.MkdirTemp("/tmp", "lsfull-")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", st.Size()+shimSt.Size()+256<<10), "tmpfs", full).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", full).Run(); os.RemoveAll(full) })
		current := filepath.Join(full, "liveswapd")
		// The daemon starts its containers with the shim beside it.
		if out, err := exec.Command("cp", bin, shim, full).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		sd := testbed.StartSystemd(t)
		l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, Binary: current})
		dp := &deployment{kind: plan.Liveswapd, host: l.Host, unit: l.Unit, config: l.ConfigPath, image: "host",
			current: current, newFile: testbed.Build(t, "liveswapd", "1.0.1-e2e"), newVersion: "1.0.1-e2e"}
		dp.web = testbed.RunNginx(t, dp.host, dp.image)
		dp.kv = testbed.RunRedis(t, dp.host, dp.image)
		old := recordOld(t, dp)
		planFile := writePlan(t, dp.plan())
		// Preflight sees the missing room first; with that check skipped,
		// staging itself runs out of space and cleans up.
		for _, c := range []struct{ skip, want string }{
			{"", "binary.backup-space"},
			{"binary.backup-space", "no space left"},
		} {
			args := []string{"apply", planFile, "--yes", "--output", "json", "--state-dir", t.TempDir()}
			if c.skip != "" {
				args = append(args, "--skip", c.skip)
			}
			w := testbed.Watch(t, dp.host, dp.web, dp.kv)
			code, stdout, _ := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(), args...)
			w.Stop(t)
			r := decodeReport(t, stdout)
			t.Logf("skip %q: exit %d result %s error %s", c.skip, code, r.Result, r.Error)
			if code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, c.want) {
				t.Fatalf("exit %d result %s error %q, want 1 refused naming %q", code, r.Result, r.Error, c.want)
			}
			requireIntact(t, dp, old, r, w, false)
		}
		if ents, _ := os.ReadDir(full); len(ents) != 2 {
			t.Errorf("the tmpfs holds %d files, want only the target binary and its shim", len(ents))
		}
	})
}

const heldApplyEnv = "LIVESWAP_E2E_HELD_APPLY"

// heldApply runs in a child process: apply that stops right after the swap
// (journaled) and waits there to be killed.
func heldApply() int {
	p, err := plan.Load(os.Getenv(heldApplyEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	marker, release := os.Getenv("LIVESWAP_E2E_HELD_MARKER"), os.Getenv("LIVESWAP_E2E_HELD_RELEASE")
	r, _ := upgrade.Apply(context.Background(), p, upgrade.Options{StateDir: os.Getenv("LIVESWAP_E2E_HELD_STATE"),
		HoldAfterSwap: func() {
			os.WriteFile(marker, []byte("swapped"), 0o644)
			if release == "" {
				select {}
			}
			// Held until the test creates release, then the run goes on.
			for {
				if _, err := os.Stat(release); err == nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}})
	if r == nil {
		return 2
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return r.ExitCode()
}

// TestCrashAfterSwap kills liveswap between the swap and the restart. While
// it holds the lock a second apply is refused; afterwards status says where
// it stopped, and either `apply --resume` finishes the upgrade or `rollback`
// restores the old binary.
func TestCrashAfterSwap(t *testing.T) {
	for _, finish := range []string{"resume", "rollback"} {
		t.Run(finish, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			dp := deploy(t, plan.Liveswapd, sd, true)
			liveswap := testbed.Build(t, "liveswap", "e2e")
			old := recordOld(t, dp)
			planFile, state := writePlan(t, dp.plan()), t.TempDir()
			marker := filepath.Join(t.TempDir(), "swapped")
			// The witness watches from before the held apply until the run
			// is finished one way or the other.
			w := testbed.Watch(t, dp.host, dp.web, dp.kv)

			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(append(os.Environ(), sd.Env()...), heldApplyEnv+"="+planFile,
				"LIVESWAP_E2E_HELD_STATE="+state, "LIVESWAP_E2E_HELD_MARKER="+marker)
			child.Stdout, child.Stderr = os.Stderr, os.Stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { child.Process.Kill(); child.Wait() })
			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the held apply never reached the swap")
				}
				time.Sleep(50 * time.Millisecond)
			}

			code, stdout, _ := liveswapCLI(t, liveswap, sd.Env(), "apply", planFile, "--yes", "--output", "json", "--state-dir", state)
			if r := decodeReport(t, stdout); code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, "another liveswap upgrade") {
				t.Errorf("concurrent apply: exit %d result %s error %q, want 1 refused", code, r.Result, r.Error)
			}

			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			code, stdout, _ = liveswapCLI(t, liveswap, sd.Env(), "status", "--state-dir", state)
			t.Logf("status after the crash (exit %d):\n%s", code, stdout)
			if code != 1 || !strings.Contains(stdout, "apply --resume") || !strings.Contains(stdout, "liveswap rollback") {
				t.Errorf("status: exit %d, want 1 with advice to resume or roll back", code)
			}

			switch finish {
			case "resume":
				code, stdout, _ = liveswapCLI(t, liveswap, sd.Env(), "apply", "--resume", "--yes", "--output", "json", "--state-dir", state)
				w.Stop(t)
				r := decodeReport(t, stdout)
				if code != 0 || r.Result != upgrade.Upgraded {
					t.Fatalf("resume: exit %d result %s error %s", code, r.Result, r.Error)
				}
				if v := daemonVersion(t, dp.host); v != dp.newVersion {
					t.Errorf("after resume the daemon reports %s, want %s", v, dp.newVersion)
				}
				w.RequireUninterrupted(t)
				requireVerified(t, dp, r)
			case "rollback":
				code, stdout, _ = liveswapCLI(t, liveswap, sd.Env(), "rollback", "--yes", "--output", "json", "--state-dir", state)
				w.Stop(t)
				r := decodeReport(t, stdout)
				if code != 0 || r.Result != upgrade.Reverted {
					t.Fatalf("rollback: exit %d result %s error %s", code, r.Result, r.Error)
				}
				requireIntact(t, dp, old, r, w, true)
			}
		})
	}
}

// TestApplyAfterRecentRestarts: restarts made just before (systemd allows 5
// starts in 10 s by default) must not turn apply's own restart into
// start-limit-hit.
func TestApplyAfterRecentRestarts(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	for i := 0; i < 4; i++ { // with the first start: the whole burst
		sd.RestartUnit(t, dp.unit)
	}
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)
	code, stdout, _ := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(),
		"apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", t.TempDir())
	w.Stop(t)
	r := decodeReport(t, stdout)
	if code != 0 || r.Result != upgrade.Upgraded {
		t.Fatalf("exit %d result %s error %s", code, r.Result, r.Error)
	}
	if v := daemonVersion(t, dp.host); v != dp.newVersion {
		t.Errorf("docker version: the daemon reports %s, want %s", v, dp.newVersion)
	}
	w.RequireUninterrupted(t)
	requireVerified(t, dp, r)
}
