package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade"
)

// TestPlanThenApply discovers a plan from the live host — binary, config and
// endpoint from the unit, probes from the containers' listening sockets, the
// new version from the binary — and applies it unchanged.
func TestPlanThenApply(t *testing.T) {
	for _, target := range deployers {
		t.Run(target.kind, func(t *testing.T) {
			sd := testbed.StartSystemd(t)
			dp := deploy(t, target.kind, sd, true)
			liveswap := testbed.Build(t, "liveswap", "e2e")
			file := filepath.Join(t.TempDir(), "plan.yaml")
			code, stdout, stderr := liveswapCLI(t, liveswap, sd.Env(), "plan", "--target", dp.kind, "--systemd", "user",
				"--unit", dp.unit, "--new-binary", dp.newFile, "--sha256", sha256Of(dp.newFile), "-o", file)
			t.Logf("plan exit %d:\n%s", code, stderr)
			if code != 0 {
				t.Fatalf("plan exit %d", code)
			}
			p, err := plan.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if p.Target.Endpoint != dp.host || p.Target.DaemonConfig != dp.config || p.Binaries[0].Path != dp.current {
				t.Errorf("discovered target %+v binary %s; want endpoint %s config %s binary %s",
					p.Target, p.Binaries[0].Path, dp.host, dp.config, dp.current)
			}
			if !upgrade.VersionMatches(p.Binaries[0].ExpectedVersion, dp.newVersion) {
				t.Errorf("expected version %q, want %q", p.Binaries[0].ExpectedVersion, dp.newVersion)
			}
			want := map[string]plan.Workload{
				dp.web.Name: {Container: dp.web.Name, Probe: probe.HTTP, Address: dp.web.Target()},
				dp.kv.Name:  {Container: dp.kv.Name, Probe: probe.Redis, Address: dp.kv.Target()},
			}
			if len(p.Workloads) != len(want) {
				t.Fatalf("discovered %d probes, want %d: %+v", len(p.Workloads), len(want), p.Workloads)
			}
			for _, w := range p.Workloads {
				if wnt := want[w.Container]; w.Probe != wnt.Probe || w.Address != wnt.Address {
					t.Errorf("probe %+v, want %+v", w, wnt)
				}
			}
			// The canary: dockerd's is a running container's image with a
			// shell; liveswapd's is the host image.
			// liveswapd's containers run image host here (the testbed opts
			// in): discovery finds /bin/sh in their root, the host's.
			wantCanary := plan.Canary{Image: "host", Command: []string{"/bin/sh", "-c", "true"}}
			if dp.kind == plan.Docker {
				wantCanary = plan.Canary{Image: dp.image, Command: []string{"/bin/sh", "-c", "true"}}
			}
			if p.Canary.Image != wantCanary.Image || strings.Join(p.Canary.Command, " ") != strings.Join(wantCanary.Command, " ") {
				t.Errorf("discovered canary %+v, want %+v", p.Canary, wantCanary)
			}
			// A dry run prints the steps and touches nothing.
			oldSHA := sha256Of(dp.current)
			code, stdout, _ = liveswapCLI(t, liveswap, sd.Env(), "apply", file, "--dry-run")
			if code != 0 || !strings.Contains(stdout, "dry run: nothing was touched") || !strings.Contains(stdout, "swap "+dp.current) {
				t.Errorf("dry run: exit %d\n%s", code, stdout)
			}
			if sha256Of(dp.current) != oldSHA {
				t.Fatal("the dry run changed the target binary")
			}
			oldFile := fileIDOf(t, dp.current)
			w := testbed.Watch(t, dp.host, dp.web, dp.kv)
			code, stdout, stderr = liveswapCLI(t, liveswap, sd.Env(), "apply", file, "--yes", "--output", "json", "--state-dir", t.TempDir())
			w.Stop(t)
			r := decodeReport(t, stdout)
			if code != 0 || r.Result != upgrade.Upgraded {
				t.Fatalf("apply of the discovered plan: exit %d result %s error %s\n%s", code, r.Result, r.Error, stderr)
			}
			canaryRan := false
			for _, ph := range r.Phases {
				canaryRan = canaryRan || (ph.Name == "canary" && ph.Status == upgrade.PhaseDone && strings.Contains(ph.Detail, "ran "+wantCanary.Image+" "))
			}
			if !canaryRan {
				t.Errorf("the canary did not run: phases %+v", r.Phases)
			}
			// The discovered probes ran, and the witness agrees with them.
			for _, p := range r.Probes {
				if p.Failed != 0 || p.Sent == 0 {
					t.Errorf("probe %s: %d of %d failed", p.Name, p.Failed, p.Sent)
				}
			}
			if len(r.Probes) != 2 {
				t.Errorf("the run probed %d workloads, want 2", len(r.Probes))
			}
			w.RequireUninterrupted(t)
			requireVerified(t, dp, r)
			if v := daemonVersion(t, dp.host); !upgrade.VersionMatches(v, dp.newVersion) {
				t.Errorf("docker version: the daemon reports %s, want %s", v, dp.newVersion)
			}
			// /proc: the unit runs the new file (dockerd's versions are equal).
			if got := runningFile(t, sd, dp.unit); got == oldFile || got != fileIDOf(t, dp.current) {
				t.Errorf("/proc: the unit's main process runs file %v; the old binary was %v, the one in place is %v", got, oldFile, fileIDOf(t, dp.current))
			}
		})
	}
}
