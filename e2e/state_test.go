package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// waitFile waits for path to exist.
func waitFile(t *testing.T, path, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s never appeared", what, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOneTargetTwoStateDirs is issue 13's finding 4: two applies on one
// daemon with different --state-dir. The first holds after its swap; the
// second is refused (exit 1) by pre-flight and, with that check skipped,
// by its lock phase, naming "locked by pid N (state dir X)"; it stages
// nothing. Released, the first finishes: upgraded, nothing interrupted as
// the witness saw it.
func TestOneTargetTwoStateDirs(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	planFile, stateA, stateB := writePlan(t, dp.plan()), t.TempDir(), t.TempDir()
	marker, release := filepath.Join(t.TempDir(), "swapped"), filepath.Join(t.TempDir(), "release")
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)

	first := exec.Command(os.Args[0], "-test.run=^$")
	first.Env = append(append(os.Environ(), sd.Env()...), heldApplyEnv+"="+planFile,
		"LIVESWAP_E2E_HELD_STATE="+stateA, "LIVESWAP_E2E_HELD_MARKER="+marker, "LIVESWAP_E2E_HELD_RELEASE="+release)
	out, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stderr = os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	stdout := make(chan string, 1)
	go func() { b, _ := io.ReadAll(out); stdout <- string(b) }()
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	waitFile(t, marker, "the first apply's swap")

	want := regexp.MustCompile(fmt.Sprintf(`locked by pid %d \(state dir %s\)`, first.Process.Pid, regexp.QuoteMeta(stateA)))
	for _, extra := range [][]string{nil, {"--skip", "host.lock"}} {
		args := append([]string{"apply", planFile, "--yes", "--output", "json", "--state-dir", stateB}, extra...)
		code, stdout, _ := liveswapCLI(t, liveswap, sd.Env(), args...)
		r := decodeReport(t, stdout)
		t.Logf("second apply %v: exit %d result %s error %s", extra, code, r.Result, r.Error)
		if code != 1 || r.Result != upgrade.Refused || !want.MatchString(r.Error) {
			t.Errorf("second apply %v: exit %d result %s error %q, want 1 refused matching %s", extra, code, r.Result, r.Error, want)
		}
	}
	staged, _ := filepath.Glob(dp.current + ".liveswap-new*")
	if len(staged) != 0 {
		t.Errorf("staged files while the first run holds the target after its swap: %v", staged)
	}

	os.WriteFile(release, nil, 0o644)
	if err := first.Wait(); err != nil {
		t.Errorf("the first apply: %v", err)
	}
	w.Stop(t)
	r := decodeReport(t, <-stdout)
	t.Logf("first apply: result %s (exit %d), probes %+v", r.Result, r.ExitCode(), r.Probes)
	if r.Result != upgrade.Upgraded {
		t.Fatalf("the first apply: result %s error %s, want upgraded", r.Result, r.Error)
	}
	if v := daemonVersion(t, dp.host); v != dp.newVersion {
		t.Errorf("the daemon reports %s, want %s", v, dp.newVersion)
	}
	w.RequireUninterrupted(t)
	requireVerified(t, dp, r)
}

// TestResumeRechecksStaged is finding 3's resume: a run stopped between
// stage and swap whose staged binary now belongs to nobody. `apply
// --resume` refuses it (exit 1, naming the owner) and installs nothing:
// the daemon keeps its binary and process, the staged file stays as it
// is. Given back to root, the same file is resumed to an upgrade — the
// refusal was the owner, nothing else. The witness watches throughout.
func TestResumeRechecksStaged(t *testing.T) {
	sd := testbed.StartSystemd(t)
	dp := deploy(t, plan.Liveswapd, sd, true)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	old := recordOld(t, dp)
	p, state := dp.plan(), t.TempDir()
	w := testbed.Watch(t, dp.host, dp.web, dp.kv)

	// What an apply interrupted after its stage phase leaves: the journal,
	// the snapshot and a staged copy of the new binary.
	const run = "20990101T000000Z"
	eng, err := engine.New(dp.host)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := upgrade.TakeSnapshot(context.Background(), eng, p.Workloads)
	eng.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.WriteFile(filepath.Join(state, "run-"+run+"-before.json")); err != nil {
		t.Fatal(err)
	}
	staged := dp.current + ".liveswap-new-" + run + "-0"
	if out, err := exec.Command("cp", "-p", dp.newFile, staged).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	t.Cleanup(func() { os.Remove(staged) })
	j, err := upgrade.OpenJournal(state)
	if err != nil {
		t.Fatal(err)
	}
	swaps := []upgrade.Swap{{Path: dp.current, Staged: staged, Backup: dp.current + ".liveswap-backup-" + old.version, FromVersion: old.version}}
	if err := j.Begin(run, p); err != nil {
		t.Fatal(err)
	}
	for _, e := range []upgrade.Entry{
		{Run: run, Phase: "snapshot", Status: "info", From: old.version},
		{Run: run, Phase: "stage", Status: "started"},
		{Run: run, Phase: "stage", Status: "done", Swaps: swaps},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	pid := sd.MainPID(t, dp.unit)
	if err := os.Chown(staged, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	before, beforeSHA := fileIDOf(t, staged), sha256Of(staged)
	code, stdout, _ := liveswapCLI(t, liveswap, sd.Env(), "apply", "--resume", "--yes", "--output", "json", "--state-dir", state)
	r := decodeReport(t, stdout)
	t.Logf("resume with nobody's staged binary: exit %d result %s error %s", code, r.Result, r.Error)
	if code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, "owned by uid 65534") || !strings.Contains(r.Error, staged) {
		t.Fatalf("exit %d result %s error %q, want 1 refused naming %s and its owner", code, r.Result, r.Error, staged)
	}
	requireOldDaemon(t, dp, old)
	if got := sd.MainPID(t, dp.unit); got != pid {
		t.Errorf("the daemon was restarted: PID %d, was %d", got, pid)
	}
	if st, _ := os.Stat(staged); fileIDOf(t, staged) != before || sha256Of(staged) != beforeSHA || st.Sys().(*syscall.Stat_t).Uid != 65534 {
		t.Errorf("the refused staged file changed")
	}

	os.Chown(staged, 0, 0)
	code, stdout, _ = liveswapCLI(t, liveswap, sd.Env(), "apply", "--resume", "--yes", "--output", "json", "--state-dir", state)
	w.Stop(t)
	r = decodeReport(t, stdout)
	t.Logf("resume with root's staged binary: exit %d result %s, probes %+v", code, r.Result, r.Probes)
	if code != 0 || r.Result != upgrade.Upgraded {
		t.Fatalf("resume: exit %d result %s error %s", code, r.Result, r.Error)
	}
	if v := daemonVersion(t, dp.host); v != dp.newVersion {
		t.Errorf("after resume the daemon reports %s, want %s", v, dp.newVersion)
	}
	w.RequireUninterrupted(t)
}
