package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// TestChaosApply signals liveswap as each phase of an apply begins (read
// from its journal) — SIGINT, SIGTERM or SIGKILL — on a liveswapd with
// nginx and redis running. Whatever the moment, the host must end
// consistent: the unit's main process runs the file at the plan's path
// (/proc), the daemon answers with that file's version (docker CLI),
// `liveswap status` agrees, an unfinished run is finished by `apply
// --resume`, and the witness sees every container keep its process with
// no failed probe.
//
// SIGINT and SIGTERM before the swap stop the run (exit 1, nothing
// changed); from the swap on the run goes to its end (exit 0). SIGKILL
// leaves the journal to `apply --resume`.
func TestChaosApply(t *testing.T) {
	phases := []string{"snapshot", "stage", "recheck", "swap", "restart", "ready", "canary", "verify", "commit"}
	sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL}
	liveswap := testbed.Build(t, "liveswap", "e2e")
	newFile := testbed.Build(t, "liveswapd", "1.0.1-e2e")
	var matrix []string
	for _, ph := range phases {
		for _, sig := range sigs {
			t.Run(ph+"/"+sig.String(), func(t *testing.T) {
				out := chaosCase(t, liveswap, newFile, ph, sig)
				matrix = append(matrix, fmt.Sprintf("%-8s %-10s %s", ph, sig, out))
			})
		}
	}
	t.Logf("chaos matrix (phase begun, signal: what happened):\n%s", strings.Join(matrix, "\n"))
}

func chaosCase(t *testing.T, liveswap, newFile, phase string, sig syscall.Signal) string {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	dp.newFile = newFile
	oldSHA, newSHA := sha256Of(dp.current), sha256Of(newFile)
	state := t.TempDir()
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)

	run := startLiveswap(t, liveswap, sd, "apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", state)
	if !run.waitFor(func() bool { return journalHas(filepath.Join(state, "journal.jsonl"), phase, "started") }) {
		t.Fatalf("apply ended (exit %d) before phase %s began\n%s\n%s", run.cmd.ProcessState.ExitCode(), phase, run.stdout.String(), run.stderr.String())
	}
	run.cmd.Process.Signal(sig)
	select {
	case <-run.exited:
	case <-time.After(3 * time.Minute):
		t.Fatalf("apply still runs 3 min after %v", sig)
	}
	cmd, stdout, stderr := run.cmd, &run.stdout, &run.stderr
	code := cmd.ProcessState.ExitCode()
	outcome := fmt.Sprintf("exit %d", code)
	if sig != syscall.SIGKILL {
		r := decodeReport(t, stdout.String())
		outcome += " " + string(r.Result)
		switch {
		case code == 0 && r.Result == upgrade.Upgraded:
		case code == 1 && r.Result == upgrade.Refused && !strings.Contains(strings.Join(phaseNames(r.Phases), " "), "swap"):
		default:
			t.Errorf("%v at %s: exit %d result %s (%s), want upgraded, or refused before the swap\nstderr:\n%s", sig, phase, code, r.Result, r.Error, stderr.String())
		}
	}

	// status tells the truth and the way out; `apply --resume` finishes an
	// unfinished run from any point (before the swap, running the plan
	// again — status's other advice — would do as well).
	scode, sout, _ := liveswapCLI(t, liveswap, sd.Env(), "status", "--state-dir", state)
	if scode == 1 {
		args := []string{"apply", "--resume", "--yes", "--output", "json", "--state-dir", state}
		how := "resume"
		if !strings.Contains(sout, "apply --resume") && !strings.Contains(sout, "run `liveswap apply` again") {
			t.Errorf("status exit 1 without the way out:\n%s", sout)
		}
		rcode, rout, rerr := liveswapCLI(t, liveswap, sd.Env(), args...)
		r := decodeReport(t, rout)
		outcome += fmt.Sprintf("; status unfinished; %s: exit %d %s", how, rcode, r.Result)
		if rcode != 0 || r.Result != upgrade.Upgraded {
			t.Errorf("%s: exit %d result %s (%s)\n%s", how, rcode, r.Result, r.Error, rerr)
		}
		scode, sout, _ = liveswapCLI(t, liveswap, sd.Env(), "status", "--state-dir", state)
	}
	if scode != 0 {
		t.Errorf("status after the run is finished: exit %d\n%s", scode, sout)
	}
	w.Stop(t)

	// Running = on disk: the unit's main process runs the file at the
	// path, and the daemon reports that file's version.
	onDisk := sha256Of(dp.current)
	running := sha256Of(fmt.Sprintf("/proc/%d/exe", sd.MainPID(t, dp.unit)))
	want := map[string]string{oldSHA: testbed.LiveswapdVersion, newSHA: dp.newVersion}[onDisk]
	switch {
	case want == "":
		t.Errorf("the file at %s is neither the old nor the new binary", dp.current)
	case running != onDisk:
		t.Errorf("the daemon runs %s, the file on disk is %s", running[:12], onDisk[:12])
	default:
		if v := daemonVersion(t, dp.host); v != want {
			t.Errorf("docker version: %s, the file on disk is %s", v, want)
		}
		outcome += "; runs " + want
	}
	if m, _ := filepath.Glob(dp.current + ".liveswap-new-*"); len(m) > 0 {
		t.Errorf("staged copies left beside the target: %v", m)
	}
	w.RequireUninterrupted(t)
	return outcome
}

// journalHas says whether the journal has an entry of phase with status.
func journalHas(path, phase, status string) bool { return journalCount(path, phase, status) > 0 }

func phaseNames(ps []upgrade.PhaseReport) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+":"+p.Status)
	}
	return out
}

// TestChaosRollback: after an upgrade, `liveswap rollback` is signalled as
// each of its phases begins. After SIGINT or SIGTERM the unit runs the
// file on disk; after any signal a second `liveswap rollback` completes:
// the old version runs from the file on disk, status is clean, and the
// witness saw nothing interrupted.
func TestChaosRollback(t *testing.T) {
	liveswap := testbed.Build(t, "liveswap", "e2e")
	newFile := testbed.Build(t, "liveswapd", "1.0.1-e2e")
	var matrix []string
	for _, ph := range []string{"lock", "snapshot", "rollback"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(ph+"/"+sig.String(), func(t *testing.T) {
				sd := testbed.StartSystemd(t)
				dp := deploy(t, plan.Liveswapd, sd, true)
				dp.newFile = newFile
				state := t.TempDir()
				w := testbed.Watch(t, dp.host, dp.web, dp.kv)
				if code, out, _ := liveswapCLI(t, liveswap, sd.Env(), "apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", state); code != 0 {
					t.Fatalf("apply: exit %d\n%s", code, out)
				}
				// The rollback's entries follow the apply's: wait for the
				// phase's second "started" when the apply had one too.
				before := journalCount(filepath.Join(state, "journal.jsonl"), ph, "started")
				run := startLiveswap(t, liveswap, sd, "rollback", "--yes", "--output", "json", "--state-dir", state)
				if run.waitFor(func() bool { return journalCount(filepath.Join(state, "journal.jsonl"), ph, "started") > before }) {
					run.cmd.Process.Signal(sig)
				}
				cmd, stdout, exited := run.cmd, &run.stdout, run.exited
				<-exited
				outcome := fmt.Sprintf("exit %d", cmd.ProcessState.ExitCode())
				if sig != syscall.SIGKILL {
					r := decodeReport(t, stdout.String())
					outcome += " " + string(r.Result)
					if r.Result != upgrade.Reverted && r.Result != upgrade.Refused && r.Result != upgrade.Failed {
						t.Errorf("rollback after %v: %s (%s)", sig, r.Result, r.Error)
					}
				}
				// After SIGINT or SIGTERM the unit settles on the file on disk;
				// SIGKILL may come between the restore and the restart, which
				// the second rollback finishes.
				if sig != syscall.SIGKILL {
					waitRunsDisk(t, sd, dp)
				}
				code, out, errOut := liveswapCLI(t, liveswap, sd.Env(), "rollback", "--yes", "--output", "json", "--state-dir", state)
				r := decodeReport(t, out)
				outcome += fmt.Sprintf("; rollback again: exit %d %s", code, r.Result)
				if code != 0 || r.Result != upgrade.Reverted {
					t.Errorf("second rollback: exit %d %s (%s)\n%s", code, r.Result, r.Error, errOut)
				}
				if scode, sout, _ := liveswapCLI(t, liveswap, sd.Env(), "status", "--state-dir", state); scode != 0 {
					t.Errorf("status: exit %d\n%s", scode, sout)
				}
				w.Stop(t)
				if v := daemonVersion(t, dp.host); v != testbed.LiveswapdVersion {
					t.Errorf("after the rollback the daemon reports %s", v)
				}
				waitRunsDisk(t, sd, dp)
				w.RequireUninterrupted(t)
				matrix = append(matrix, fmt.Sprintf("%-8s %-10s %s", ph, sig, outcome))
			})
		}
	}
	t.Logf("chaos matrix (rollback phase begun, signal: what happened):\n%s", strings.Join(matrix, "\n"))
}

// waitRunsDisk waits until the unit is active and its main process runs
// the file now at the plan's path.
func waitRunsDisk(t *testing.T, sd *testbed.Systemd, dp *deployment) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		pid := sd.MainPID(t, dp.unit)
		if pid > 0 && sd.ActiveState(t, dp.unit) == "active" {
			running, err := os.ReadFile(fmt.Sprintf("/proc/%d/exe", pid))
			disk, derr := os.ReadFile(dp.current)
			if err == nil && derr == nil && string(running) == string(disk) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("unit %s does not run the file at %s", dp.unit, dp.current)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// journalCount counts the journal's entries of phase with status.
func journalCount(path, phase, status string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e struct{ Phase, Status string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Phase == phase && e.Status == status {
			n++
		}
	}
	return n
}

// TestChaosForceQuit: a second SIGINT quits at once, even while the host
// is changing: exit 130, and the message names the way out. The journal
// then says the run is unfinished, and `apply --resume` finishes it with
// nothing interrupted.
func TestChaosForceQuit(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	dp.newFile = testbed.Build(t, "liveswapd", "1.0.1-e2e")
	liveswap := testbed.Build(t, "liveswap", "e2e")
	state := t.TempDir()
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)
	run := startLiveswap(t, liveswap, sd, "apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", state)
	cmd, stderr, exited := run.cmd, &run.stderr, run.exited
	if !run.waitFor(func() bool { return journalHas(filepath.Join(state, "journal.jsonl"), "swap", "started") }) {
		t.Fatalf("apply ended before the swap\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	// The kernel merges a signal sent while the same one is pending: send
	// the second once liveswap has said it took the first.
	if !run.waitFor(func() bool { return strings.Contains(stderr.String(), "stopping safely") }) {
		t.Fatalf("apply ended before it answered the first SIGINT\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	<-exited
	t.Logf("apply after two SIGINTs: exit %d\n%s", cmd.ProcessState.ExitCode(), stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130: the second SIGINT quits at once", code)
	}
	if !strings.Contains(stderr.String(), "liveswap apply --resume") {
		t.Errorf("the force-quit message does not name the way out:\n%s", stderr.String())
	}
	if code, out, _ := liveswapCLI(t, liveswap, sd.Env(), "status", "--state-dir", state); code == 1 {
		code, out, _ = liveswapCLI(t, liveswap, sd.Env(), "apply", "--resume", "--yes", "--output", "json", "--state-dir", state)
		if r := decodeReport(t, out); code != 0 || r.Result != upgrade.Upgraded {
			t.Fatalf("resume after the force-quit: exit %d %s (%s)", code, r.Result, r.Error)
		}
	}
	w.Stop(t)
	waitRunsDisk(t, sd, dp)
	if v := daemonVersion(t, dp.host); v != dp.newVersion {
		t.Errorf("daemon reports %s, want %s", v, dp.newVersion)
	}
	w.RequireUninterrupted(t)
}

// TestChaosFaults: faults of the host rather than of liveswap, each as a
// phase of an apply begins. Whatever the fault, the unit ends running the
// file on disk with the matching version, status is clean, and the
// witness sees every container keep its process.
//   - the daemon is SIGKILLed as verify begins: verify cannot judge a
//     daemon that is gone, which is not a verdict on the workloads — the
//     run rolls back (exit 3), and the old daemon re-attaches them;
//   - the manager re-executes (systemctl daemon-reexec, as a systemd
//     package upgrade does) during the restart, dropping liveswap's bus
//     connection: liveswap dials again and finishes (exit 0).
//
// A disk that fills while staging is TestApplyRefusesBeforeTouching's.
func TestChaosFaults(t *testing.T) {
	liveswap := testbed.Build(t, "liveswap", "e2e")
	newFile := testbed.Build(t, "liveswapd", "1.0.1-e2e")
	tests := []struct {
		name, phase string
		fault       func(t *testing.T, sd *testbed.Systemd, dp *deployment)
		wantCode    int
		wantVersion string
	}{
		{"daemon SIGKILLed as verify begins", "verify", func(t *testing.T, sd *testbed.Systemd, dp *deployment) {
			syscall.Kill(sd.MainPID(t, dp.unit), syscall.SIGKILL)
		}, 3, testbed.LiveswapdVersion},
		{"manager re-executes during the restart", "restart", func(t *testing.T, sd *testbed.Systemd, dp *deployment) {
			// systemctl reads the test manager's address from its env.
			cmd := exec.Command("systemctl", "--user", "daemon-reexec")
			cmd.Env = append(os.Environ(), sd.Env()...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("daemon-reexec: %v\n%s", err, out)
			}
		}, 0, "1.0.1-e2e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			dp := deploy(t, plan.Liveswapd, sd, true)
			dp.newFile = newFile
			state := t.TempDir()
			w := testbed.Watch(t, dp.host, dp.web, dp.kv)
			run := startLiveswap(t, liveswap, sd, "apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", state)
			cmd, stdout, stderr, exited := run.cmd, &run.stdout, &run.stderr, run.exited
			if !run.waitFor(func() bool { return journalHas(filepath.Join(state, "journal.jsonl"), tt.phase, "started") }) {
				t.Fatalf("apply ended before %s began\n%s", tt.phase, stderr.String())
			}
			tt.fault(t, sd, dp)
			<-exited
			r := decodeReport(t, stdout.String())
			t.Logf("exit %d, result %s, error: %s\nstderr:\n%s", cmd.ProcessState.ExitCode(), r.Result, r.Error, stderr.String())
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode {
				t.Errorf("exit %d (%s), want %d", code, r.Result, tt.wantCode)
			}
			if code, out, _ := liveswapCLI(t, liveswap, sd.Env(), "status", "--state-dir", state); code != 0 {
				t.Errorf("status: exit %d\n%s", code, out)
			}
			w.Stop(t)
			waitRunsDisk(t, sd, dp)
			if v := daemonVersion(t, dp.host); v != tt.wantVersion {
				t.Errorf("daemon reports %s, want %s", v, tt.wantVersion)
			}
			w.RequireUninterrupted(t)
		})
	}
}

// running is a liveswap process a chaos test signals.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	exited         chan struct{}
}

// startLiveswap starts liveswap with the test manager's environment; it is
// killed at cleanup if it still runs.
func startLiveswap(t *testing.T, bin string, sd *testbed.Systemd, args ...string) *running {
	t.Helper()
	r := &running{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), sd.Env()...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { r.cmd.Process.Kill(); <-r.exited })
	return r
}

// waitFor polls cond until it holds; false when the process ended first.
func (r *running) waitFor(cond func() bool) bool {
	for !cond() {
		select {
		case <-r.exited:
			return cond()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return true
}

// lockedBuffer is a strings.Builder that a process writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
