package e2e

import (
	"context"
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

func daemonVersion(t *testing.T, host string) string {
	t.Helper()
	return strings.TrimSpace(testbed.DockerCLI(t, host, "version", "--format", "{{.Server.Version}}"))
}

// requireIntact checks the old daemon runs again from the untouched old
// binary and that the report saw no interrupted container.
func requireIntact(t *testing.T, dp *deployment, oldSHA string, r *upgrade.Report) {
	t.Helper()
	if v := daemonVersion(t, dp.host); v != testbed.LiveswapdVersion {
		t.Errorf("daemon reports %s, want the old %s", v, testbed.LiveswapdVersion)
	}
	if got := sha256Of(dp.current); got != oldSHA {
		t.Errorf("target binary changed: sha256 %s, want %s", got, oldSHA)
	}
	for _, c := range r.Containers {
		if c.Interrupted {
			t.Errorf("container %s interrupted: %s", c.Name, c.Reason)
		}
	}
	for _, w := range []*testbed.Workload{dp.web, dp.kv} {
		if err := testbed.WaitServing(w, time.Second); err != nil {
			t.Errorf("%s does not serve: %v", w.Name, err)
		}
	}
}

// TestApplyRollsBack breaks the new binary in each way a real upgrade can
// break and expects exit 3: the old binary back in place and running, and
// the workloads verified.
func TestApplyRollsBack(t *testing.T) {
	tests := []struct {
		name   string
		binary func(t *testing.T) string
		policy func(p *plan.Policy)
	}{
		{"new binary exits at start", func(t *testing.T) string { return faultd(t, "exit", "") }, nil},
		{"new binary never becomes ready", func(t *testing.T) string { return faultd(t, "hang", "") },
			func(p *plan.Policy) {
				p.ReadyTimeout, p.StopTimeout = plan.Duration(3*time.Second), plan.Duration(2*time.Second)
			}},
		{"new binary reports another version", func(t *testing.T) string {
			return faultd(t, "exec", testbed.Build(t, "liveswapd", "1.0.2-e2e"))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			dp := deploy(t, plan.Liveswapd, sd, true)
			dp.newFile = tt.binary(t)
			oldSHA := sha256Of(dp.current)
			p := dp.plan()
			if tt.policy != nil {
				tt.policy(&p.Policy)
			}
			code, stdout, stderr := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(),
				"apply", writePlan(t, p), "--yes", "--output", "json", "--state-dir", t.TempDir())
			r := decodeReport(t, stdout)
			t.Logf("exit %d, result %s, error: %s\nstderr:\n%s", code, r.Result, r.Error, stderr)
			if code != 3 || r.Result != upgrade.RolledBack {
				t.Fatalf("exit %d result %s, want 3 rolled-back\n%s", code, r.Result, stdout)
			}
			requireIntact(t, dp, oldSHA, r)
		})
	}
}

// TestApplyRefusesBeforeTouching: a checksum mismatch and a full disk while
// staging end with exit 1 and the target binary intact.
func TestApplyRefusesBeforeTouching(t *testing.T) {
	t.Run("checksum mismatch", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		dp := deploy(t, plan.Liveswapd, sd, true)
		oldSHA := sha256Of(dp.current)
		p := dp.plan()
		p.Binaries[0].SHA256 = strings.Repeat("0", 64)
		code, stdout, _ := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(),
			"apply", writePlan(t, p), "--yes", "--output", "json", "--state-dir", t.TempDir())
		r := decodeReport(t, stdout)
		if code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, "sha256") {
			t.Fatalf("exit %d result %s error %q, want 1 refused naming sha256", code, r.Result, r.Error)
		}
		requireIntact(t, dp, oldSHA, r)
		if _, err := os.Stat(dp.current + ".liveswap-new"); !os.IsNotExist(err) {
			t.Errorf("staged file left behind: %v", err)
		}
	})
	t.Run("disk full while staging", func(t *testing.T) {
		testbed.Require(t, testbed.DockerBin)
		// The target binary lives on a tmpfs with room for itself only;
		// mounted before the manager starts so its namespace sees it too.
		bin := testbed.Build(t, "liveswapd", testbed.LiveswapdVersion)
		st, _ := os.Stat(bin)
		full, err := os.MkdirTemp("/tmp", "lsfull-")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", st.Size()+256<<10), "tmpfs", full).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", full).Run(); os.RemoveAll(full) })
		current := filepath.Join(full, "liveswapd")
		if out, err := exec.Command("cp", bin, current).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		sd := testbed.StartSystemd(t)
		l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, Binary: current})
		dp := &deployment{kind: plan.Liveswapd, host: l.Host, unit: l.Unit, config: l.ConfigPath, image: "host",
			current: current, newFile: testbed.Build(t, "liveswapd", "1.0.1-e2e"), newVersion: "1.0.1-e2e"}
		dp.web = testbed.RunNginx(t, dp.host, dp.image)
		dp.kv = testbed.RunRedis(t, dp.host, dp.image)
		oldSHA := sha256Of(current)
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
			code, stdout, _ := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(), args...)
			r := decodeReport(t, stdout)
			t.Logf("skip %q: exit %d result %s error %s", c.skip, code, r.Result, r.Error)
			if code != 1 || r.Result != upgrade.Refused || !strings.Contains(r.Error, c.want) {
				t.Fatalf("exit %d result %s error %q, want 1 refused naming %q", code, r.Result, r.Error, c.want)
			}
			requireIntact(t, dp, oldSHA, r)
		}
		if ents, _ := os.ReadDir(full); len(ents) != 1 {
			t.Errorf("the tmpfs holds %d files, want only the target binary", len(ents))
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
	marker := os.Getenv("LIVESWAP_E2E_HELD_MARKER")
	upgrade.Apply(context.Background(), p, upgrade.Options{StateDir: os.Getenv("LIVESWAP_E2E_HELD_STATE"),
		HoldAfterSwap: func() {
			os.WriteFile(marker, []byte("swapped"), 0o644)
			select {}
		}})
	return 1
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
			oldSHA := sha256Of(dp.current)
			planFile, state := writePlan(t, dp.plan()), t.TempDir()
			marker := filepath.Join(t.TempDir(), "swapped")

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
				r := decodeReport(t, stdout)
				if code != 0 || r.Result != upgrade.Upgraded {
					t.Fatalf("resume: exit %d result %s error %s", code, r.Result, r.Error)
				}
				if v := daemonVersion(t, dp.host); v != dp.newVersion {
					t.Errorf("after resume the daemon reports %s, want %s", v, dp.newVersion)
				}
				for _, c := range r.Containers {
					if c.Interrupted {
						t.Errorf("container %s interrupted: %s", c.Name, c.Reason)
					}
				}
			case "rollback":
				code, stdout, _ = liveswapCLI(t, liveswap, sd.Env(), "rollback", "--yes", "--output", "json", "--state-dir", state)
				r := decodeReport(t, stdout)
				if code != 0 || r.Result != upgrade.RolledBack {
					t.Fatalf("rollback: exit %d result %s error %s", code, r.Result, r.Error)
				}
				requireIntact(t, dp, oldSHA, r)
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
	code, stdout, _ := liveswapCLI(t, testbed.Build(t, "liveswap", "e2e"), sd.Env(),
		"apply", writePlan(t, dp.plan()), "--yes", "--output", "json", "--state-dir", t.TempDir())
	if r := decodeReport(t, stdout); code != 0 || r.Result != upgrade.Upgraded {
		t.Fatalf("exit %d result %s error %s", code, r.Result, r.Error)
	}
}
