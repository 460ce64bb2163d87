package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
)

// preflightJSON runs `liveswap preflight ARGS --output json` against the
// test's systemd manager and returns the exit code and the decoded report.
func preflightJSON(t *testing.T, liveswap string, sd *testbed.Systemd, args ...string) (int, *checks.JSONReport) {
	t.Helper()
	args = append([]string{"preflight", "--systemd", "user", "--state-dir", t.TempDir(), "--output", "json"}, args...)
	code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), args...)
	var rep checks.JSONReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("preflight exit %d, output is not JSON: %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	return code, &rep
}

type checksIndex map[string]checks.JSONCheck

func index(rep *checks.JSONReport) checksIndex {
	out := checksIndex{}
	for _, c := range rep.Checks {
		out[c.ID] = c
	}
	return out
}

// requireStatus fails unless check id ended with want (and its message
// contains substr).
func requireStatus(t *testing.T, rep *checks.JSONReport, id string, want checks.Status, substr string) checks.JSONCheck {
	t.Helper()
	c, ok := index(rep)[id]
	if !ok {
		t.Fatalf("no result for %s", id)
	}
	if c.Status != want || !strings.Contains(c.Message, substr) {
		t.Errorf("%s = [%s] %q (remedy %q), want [%s] with %q", id, c.Status, c.Message, c.Remedy, want, substr)
	}
	return c
}

// logReport shows what did not pass, to make a wrong verdict easy to read.
func logReport(t *testing.T, rep *checks.JSONReport) {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Status != checks.OK {
			t.Logf("[%s] %s: %s", c.Status, c.ID, c.Message)
		}
	}
}

// fakeDockerd builds a tiny static program that answers --version like a
// dockerd of version: an ELF for this machine, so only the version differs.
func fakeDockerd(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	prog := fmt.Sprintf("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(%q) }\n", "Docker version "+version+", build e2e")
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "dockerd")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building a fake dockerd: %v\n%s", err, out)
	}
	return bin
}

// TestPreflightDockerd runs the real `liveswap preflight` against real
// dockerd units of a real systemd manager.
func TestPreflightDockerd(t *testing.T) {
	testbed.Require(t, testbed.DockerdBin, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
	liveswap := testbed.Build(t, "liveswap", "e2e")

	t.Run("live-restore on, KillMode=process", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		// --log-level in ExecStart: the conflict case below adds it to the file.
		d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: true, ExtraFlags: []string{"--log-level=warn"}})
		img := testbed.BuildImage(t, d)
		web := testbed.RunNginx(t, d.Host, img)
		newBin := testbed.CopyBinary(t, testbed.DockerdBin)
		sum := testbed.SHA256(t, newBin)

		// Only --unit and the binary are given: binary path, daemon.json
		// and endpoint are discovered from the unit and the file.
		code, rep := preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", newBin, "--sha256", sum)
		logReport(t, rep)
		if code != 0 || !rep.Passed {
			t.Fatalf("exit %d, passed %v; want 0 (same-version re-install onto a well set up dockerd)", code, rep.Passed)
		}
		if rep.Target.Endpoint != d.Host || rep.Target.DaemonConfig != d.ConfigPath || rep.Target.Binary != testbed.DockerdBin || rep.Target.Kind != plan.Docker {
			t.Errorf("discovered target %+v; want endpoint %s, config %s, binary %s", rep.Target, d.Host, d.ConfigPath, testbed.DockerdBin)
		}
		if !strings.HasPrefix(rep.FromVersion, "20.10.24") || rep.FromVersion != rep.ToVersion {
			t.Errorf("versions %q -> %q", rep.FromVersion, rep.ToVersion)
		}
		requireStatus(t, rep, "unit.kill-mode", checks.OK, "KillMode=process")
		requireStatus(t, rep, "engine.live-restore", checks.OK, "live restore on")
		requireStatus(t, rep, "daemon-json.live-restore", checks.OK, "live-restore is on")
		requireStatus(t, rep, "daemon-json.valid", checks.OK, "dockerd 20.10 rules")
		requireStatus(t, rep, "version.policy", checks.OK, "re-install")
		requireStatus(t, rep, "binary.version", checks.OK, "Docker version 20.10.24")
		requireStatus(t, rep, "host.self-in-container", checks.OK, "outside")
		if c := requireStatus(t, rep, "workload.health", checks.OK, "1 running container"); !strings.Contains(strings.Join(c.Details, "\n"), web.Name) {
			t.Errorf("workload.health does not list %s: %v", web.Name, c.Details)
		}
		requireStatus(t, rep, "workload.healthcheck", checks.Warn, web.Name)
		requireStatus(t, rep, "workload.log-rate", checks.OK, "log slowly enough")

		t.Run("checksum mismatch", func(t *testing.T) {
			code, rep := preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", newBin, "--sha256", strings.Repeat("0", 64))
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			c := requireStatus(t, rep, "binary.sha256", checks.Fail, "expected 0000")
			if !strings.Contains(c.Remedy, "download it again") {
				t.Errorf("remedy %q", c.Remedy)
			}
			// A binary that failed its checksum is never executed.
			requireStatus(t, rep, "binary.version", checks.Fail, "not running")
		})

		t.Run("minor version jump", func(t *testing.T) {
			fake := fakeDockerd(t, "20.11.0")
			code, rep := preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", fake, "--sha256", testbed.SHA256(t, fake))
			if code != 1 {
				logReport(t, rep)
				t.Fatalf("exit %d, want 1", code)
			}
			c := requireStatus(t, rep, "version.policy", checks.Fail, "minor upgrade")
			if !strings.Contains(c.Remedy, "--allow-minor") {
				t.Errorf("remedy %q", c.Remedy)
			}
			if rep.ToVersion != "20.11.0" {
				t.Errorf("to_version %q", rep.ToVersion)
			}
			code, rep = preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", fake, "--sha256", testbed.SHA256(t, fake), "--allow-minor")
			logReport(t, rep)
			if code != 0 {
				t.Fatalf("--allow-minor: exit %d, want 0", code)
			}
			requireStatus(t, rep, "version.policy", checks.Warn, "--allow-minor")
		})

		t.Run("new binary is a script", func(t *testing.T) {
			script := filepath.Join(t.TempDir(), "dockerd")
			os.WriteFile(script, []byte("#!/bin/sh\necho Docker version 20.10.25, build x\n"), 0o755)
			code, rep := preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", script, "--sha256", testbed.SHA256(t, script))
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			requireStatus(t, rep, "binary.elf", checks.Fail, "is a script")
		})

		t.Run("liveswap inside a container of the daemon", func(t *testing.T) {
			// The same liveswap, run in a container of this dockerd with the
			// manager's private socket and the engine socket mounted in: it
			// reaches both and must notice it would cut itself off.
			// Only stdout is attached: stderr's last line would otherwise
			// land anywhere inside the JSON.
			out, err := testbed.Docker(d.Host, "run", "--rm", "-a", "stdout", "--network", "host",
				"-v", liveswap+":/liveswap:ro", "-v", sd.RuntimeDir+":"+sd.RuntimeDir, "-v", d.Socket+":"+d.Socket,
				"-e", "XDG_RUNTIME_DIR="+sd.RuntimeDir, img,
				"/liveswap", "preflight", "--systemd", "user", "--unit", d.Unit, "--endpoint", d.Host, "--state-dir", "/tmp/state",
				"--skip", "binary,version,daemon-json,host.package-automation", "--output", "json")
			if err == nil {
				t.Fatalf("preflight inside a container passed:\n%s", out)
			}
			var rep checks.JSONReport
			start := strings.Index(out, "{")
			if start < 0 || json.NewDecoder(strings.NewReader(out[start:])).Decode(&rep) != nil {
				t.Fatalf("no JSON report: %v\n%s", err, out)
			}
			logReport(t, &rep)
			requireStatus(t, &rep, "unit.kill-mode", checks.OK, "KillMode=process")
			c := requireStatus(t, &rep, "host.self-in-container", checks.Fail, "liveswap runs inside container")
			t.Logf("%s: %s", c.ID, c.Message)
			for _, c := range rep.Checks {
				if c.Status == checks.Fail && c.ID != "host.self-in-container" {
					t.Errorf("unexpected failure %s: %s", c.ID, c.Message)
				}
			}
		})

		t.Run("flag and file conflict", func(t *testing.T) {
			// Someone adds log-level to daemon.json while ExecStart passes
			// --log-level: the running daemon is fine, the restart of the
			// upgrade would fail.
			b, _ := os.ReadFile(d.ConfigPath)
			t.Cleanup(func() { os.WriteFile(d.ConfigPath, b, 0o644) })
			var cfg map[string]any
			json.Unmarshal(b, &cfg)
			cfg["log-level"] = "info"
			nb, _ := json.MarshalIndent(cfg, "", "  ")
			os.WriteFile(d.ConfigPath, nb, 0o644)
			code, rep := preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", newBin, "--sha256", sum)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			c := requireStatus(t, rep, "daemon-json.flag-conflict", checks.Fail, "log-level")
			t.Logf("%s: %s (remedy: %s)", c.ID, c.Message, c.Remedy)
		})

		t.Run("chatty container", func(t *testing.T) {
			// Ten lines of 1000 bytes every 0.1 s: ~100 KB/s, a sleep-paced
			// rate that fills 64 KiB in well under a second, whatever the
			// host's speed, against the default planned downtime of 10 s.
			line := strings.Repeat("x", 999)
			testbed.DockerCLI(t, d.Host, "run", "-d", "--name", "chatty", img, "/bin/sh", "-c",
				"while :; do for i in 0 1 2 3 4 5 6 7 8 9; do echo "+line+"; done; /bin/sleep 0.1; done")
			t.Cleanup(func() { testbed.Docker(d.Host, "rm", "-f", "chatty") })
			// The check needs a second of history: wait for 15 rounds of
			// output, and measure the rate the way the check does.
			var rate float64
			testbed.WaitUntil(t, "15 rounds of chatty's output", 60*time.Second, func() bool {
				var n int
				n, rate = logRateOf(t, d.Host, "chatty")
				return n >= 15*10*1000
			})
			fill := time.Duration(float64(checks.PipeBuffer) / rate * float64(time.Second))
			t.Logf("chatty logs %.0f B/s as the test measures it: 64 KiB in %v", rate, fill)
			code, rep := preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", newBin, "--sha256", sum)
			if code != 0 {
				logReport(t, rep)
				t.Fatalf("exit %d, want 0: the log rate is a warning", code)
			}
			c := requireStatus(t, rep, "workload.log-rate", checks.Warn, "chatty")
			t.Logf("%s: %s\n%s", c.ID, c.Message, strings.Join(c.Details, "\n"))
			if fill > 10*time.Second/3 {
				t.Errorf("the test's own measurement gives 64 KiB in %v: too close to the 10s downtime to judge", fill)
			}
			// The check's estimate agrees with the test's, within a factor 3.
			if got := fillFromDetails(c.Details, "chatty"); got <= 0 || got > 3*fill || got < fill/3 {
				t.Errorf("the check says chatty fills 64 KiB in %v, the test measured %v", got, fill)
			}
			// A planned downtime a quarter of the measured fill time: OK.
			short := (fill / 4).Round(time.Millisecond)
			code, rep = preflightJSON(t, liveswap, sd, "--unit", d.Unit, "--new-binary", newBin, "--sha256", sum, "--downtime", short.String())
			if code != 0 {
				logReport(t, rep)
				t.Errorf("--downtime %v: exit %d, want 0", short, code)
			}
			requireStatus(t, rep, "workload.log-rate", checks.OK, "log slowly enough for a downtime of "+short.String())
		})
	})

	t.Run("KillMode=control-group", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: true, KillMode: "control-group"})
		newBin := testbed.CopyBinary(t, testbed.DockerdBin)
		code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "preflight", "--systemd", "user", "--state-dir", t.TempDir(),
			"--unit", d.Unit, "--new-binary", newBin, "--sha256", testbed.SHA256(t, newBin))
		t.Logf("table output:\n%s%s", stdout, stderr)
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		for _, want := range []string{
			"[fail]  unit.kill-mode",
			"KillMode=control-group: stopping " + d.Unit + " kills every process in its cgroup",
			"remedy: set KillMode=process in [Service] of " + d.UnitPath,
			"FAILED",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})

	t.Run("live-restore off", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		d := testbed.StartDockerd(t, sd, testbed.DockerdOptions{LiveRestore: false})
		newBin := testbed.CopyBinary(t, testbed.DockerdBin)
		code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "preflight", "--systemd", "user", "--state-dir", t.TempDir(),
			"--unit", d.Unit, "--new-binary", newBin, "--sha256", testbed.SHA256(t, newBin), "--output", "junit")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
		}
		var doc struct {
			Suites []struct {
				Cases []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Message string `xml:"message,attr"`
						Text    string `xml:",chardata"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("junit: %v\n%s", err, stdout)
		}
		failed := map[string]string{}
		for _, c := range doc.Suites[0].Cases {
			if c.Failure != nil {
				failed[c.Name] = c.Failure.Text
			}
		}
		t.Logf("failed: %v", failed)
		if !strings.Contains(failed["engine.live-restore"], "live restore off") || !strings.Contains(failed["daemon-json.live-restore"], "live-restore") {
			t.Errorf("want engine.live-restore and daemon-json.live-restore failed, got %v", failed)
		}
		if len(failed) != 2 {
			t.Errorf("want exactly the two live-restore checks failed, got %v", failed)
		}
	})
}

// TestPreflightLiveswapd runs preflight against liveswapd units; with
// KillMode=control-group it passes only because liveswapd puts every
// container in its own scope, which the check verifies.
func TestPreflightLiveswapd(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	for _, killMode := range []string{"process", "control-group"} {
		t.Run("KillMode="+killMode, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, KillMode: killMode})
			web := testbed.RunNginx(t, l.Host, "host")
			kv := testbed.RunRedis(t, l.Host, "host")
			newBin := testbed.Build(t, "liveswapd", "1.0.1-e2e")
			// No --target: the kind is discovered from the unit's ExecStart.
			code, rep := preflightJSON(t, liveswap, sd, "--unit", l.Unit, "--new-binary", newBin, "--sha256", testbed.SHA256(t, newBin))
			logReport(t, rep)
			if code != 0 || !rep.Passed {
				t.Fatalf("exit %d, want 0", code)
			}
			if rep.Target.Kind != plan.Liveswapd || rep.Target.Endpoint != l.Host || rep.Target.Binary != l.Bin {
				t.Errorf("discovered target %+v", rep.Target)
			}
			if rep.FromVersion != testbed.LiveswapdVersion || rep.ToVersion != "1.0.1-e2e" {
				t.Errorf("versions %q -> %q", rep.FromVersion, rep.ToVersion)
			}
			requireStatus(t, rep, "version.policy", checks.OK, "patch upgrade")
			requireStatus(t, rep, "daemon-json.valid", checks.OK, "liveswapd rules")
			requireStatus(t, rep, "workload.log-rate", checks.Skip, "not applicable")
			c := requireStatus(t, rep, "unit.kill-mode", checks.OK, "KillMode="+killMode)
			if killMode == "control-group" {
				details := strings.Join(c.Details, "\n")
				for _, name := range []string{web.Name, kv.Name} {
					if !strings.Contains(details, name+" process") || !strings.Contains(details, name+" shim") {
						t.Errorf("unit.kill-mode details do not place %s: %s", name, details)
					}
				}
				if strings.Contains(details, " in "+l.Unit) || !strings.Contains(details, ".scope") {
					t.Errorf("containers not in their own scopes: %s", details)
				}
				t.Logf("unit.kill-mode details:\n%s", details)
			}
		})
	}

	// The failing branch of the same verdict: one container moved back into
	// the unit's cgroup (the manager's AttachProcessesToUnit), where a stop
	// with KillMode=control-group kills it. Preflight must name it, and only it.
	t.Run("KillMode=control-group, a container in the unit's cgroup", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true, KillMode: "control-group"})
		web := testbed.RunNginx(t, l.Host, "host")
		kv := testbed.RunRedis(t, l.Host, "host")
		pid := testbed.Inspect(t, l.Host, web.Name).Pid
		tree := testbed.ContainerTree(pid)
		sd.AttachToUnit(t, l.Unit, tree...)
		for _, p := range []int{pid, procfs.PPID(pid)} {
			if u := sd.UnitOfPID(t, p); u != l.Unit {
				t.Fatalf("pid %d is in %s after the move, want %s", p, u, l.Unit)
			}
		}
		newBin := testbed.Build(t, "liveswapd", "1.0.1-e2e")
		code, rep := preflightJSON(t, liveswap, sd, "--unit", l.Unit, "--new-binary", newBin, "--sha256", testbed.SHA256(t, newBin))
		logReport(t, rep)
		if code != 1 || rep.Passed {
			t.Fatalf("exit %d, passed %v; want 1 with a container in %s's cgroup", code, rep.Passed, l.Unit)
		}
		c := requireStatus(t, rep, "unit.kill-mode", checks.Fail, "KillMode=control-group and 2 container process(es) are in "+l.Unit+"'s cgroup")
		details := strings.Join(c.Details, "\n")
		t.Logf("unit.kill-mode: %s\n%s\nremedy: %s", c.Message, details, c.Remedy)
		for _, want := range []string{
			fmt.Sprintf("%s process pid %d in %s", web.Name, pid, l.Unit),
			fmt.Sprintf("%s shim pid %d in %s", web.Name, procfs.PPID(pid), l.Unit),
		} {
			if !strings.Contains(details, want) {
				t.Errorf("unit.kill-mode details lack %q", want)
			}
		}
		if strings.Contains(details, kv.Name) {
			t.Errorf("unit.kill-mode names %s, which stayed in its scope", kv.Name)
		}
		if !strings.Contains(c.Remedy, "KillMode=process") {
			t.Errorf("remedy %q", c.Remedy)
		}
		for _, c := range rep.Checks {
			if c.Status == checks.Fail && c.ID != "unit.kill-mode" {
				t.Errorf("unexpected failure %s: %s", c.ID, c.Message)
			}
		}
	})

	t.Run("live-restore off", func(t *testing.T) {
		sd := testbed.StartSystemd(t)
		l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: false})
		newBin := testbed.Build(t, "liveswapd", "1.0.1-e2e")
		code, rep := preflightJSON(t, liveswap, sd, "--unit", l.Unit, "--new-binary", newBin, "--sha256", testbed.SHA256(t, newBin))
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		requireStatus(t, rep, "engine.live-restore", checks.Fail, "live restore off")
		requireStatus(t, rep, "daemon-json.live-restore", checks.Fail, "live-restore is off")
	})
}

// logRateOf is a container's output so far, in bytes, and its rate since
// it started, read with the docker CLI: the test's own measure of what the
// log-rate check estimates.
func logRateOf(t *testing.T, host, name string) (int, float64) {
	t.Helper()
	st := testbed.Inspect(t, host, name)
	started, err := time.Parse(time.RFC3339Nano, st.StartedAt)
	if err != nil {
		t.Fatalf("StartedAt %q: %v", st.StartedAt, err)
	}
	out, err := testbed.Docker(host, "logs", name)
	if err != nil {
		t.Fatalf("docker logs %s: %v", name, err)
	}
	return len(out), float64(len(out)) / time.Since(started).Seconds()
}

// fillFromDetails reads "NAME: ..., fills 64 KiB in DURATION" from the
// log-rate check's details; 0 when absent.
func fillFromDetails(details []string, name string) time.Duration {
	for _, d := range details {
		if !strings.HasPrefix(d, name+": ") {
			continue
		}
		if _, after, ok := strings.Cut(d, "fills 64 KiB in "); ok {
			if v, err := time.ParseDuration(strings.TrimSpace(after)); err == nil {
				return v
			}
		}
	}
	return 0
}
