package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/liveswap/liveswap/internal/testbed"
)

// fleetHost is one "host" of the fleet test: its own liveswapd unit under
// the test's systemd manager, an nginx in it, and its own state dir (so the
// per-host upgrade locks do not collide).
type fleetHost struct {
	name  string
	l     *testbed.Liveswapd
	web   *testbed.Workload
	state string
}

// fleetSummary is the part of the playbook's summary the test reads.
type fleetSummary struct {
	Schema    string `json:"schema"`
	Rollout   string `json:"rollout"`
	StoppedAt string `json:"stopped_at"`
	Upgraded  int    `json:"upgraded"`
	Hosts     []struct {
		Host         string   `json:"host"`
		Result       string   `json:"result"`
		FromVersion  string   `json:"from_version"`
		ToVersion    string   `json:"to_version"`
		DowntimeMS   *float64 `json:"downtime_ms"`
		Probes       int      `json:"probes"`
		FailedProbes int      `json:"failed_probes"`
		Preflight    string   `json:"preflight"`
		Error        string   `json:"error"`
	} `json:"hosts"`
}

// release writes NAME.sha256 beside a binary, as a release publishes it.
func release(t *testing.T, bin string) {
	t.Helper()
	line := testbed.SHA256(t, bin) + "  " + filepath.Base(bin) + "\n"
	if err := os.WriteFile(bin+".sha256", []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runPlaybook runs playbooks/ansible/rolling-upgrade.yml with a private
// HOME and Ansible temp folders (nothing global is written) and the test
// manager's environment.
func runPlaybook(t *testing.T, sd *testbed.Systemd, work string, inventory map[string]any) (int, string) {
	t.Helper()
	playbook, err := filepath.Abs("../playbooks/ansible/rolling-upgrade.yml")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	inv, _ := json.MarshalIndent(inventory, "", "  ")
	invPath := filepath.Join(work, fmt.Sprintf("inventory-%d.yml", time.Now().UnixNano()))
	if err := os.WriteFile(invPath, inv, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, "ansible.cfg")
	if err := os.WriteFile(cfg, []byte("[defaults]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", invPath, playbook)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), sd.Env()...)
	cmd.Env = append(cmd.Env, "HOME="+home, "ANSIBLE_CONFIG="+cfg,
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(home, ".ansible", "tmp"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(home, ".ansible", "remote-tmp"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_FORKS=3", "PWD="+work)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ansible-playbook: %v\n%s", err, out.String())
	}
	return code, out.String()
}

func readSummary(t *testing.T, path string) *fleetSummary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fleet summary: %v", err)
	}
	var s fleetSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("fleet summary is not JSON: %v\n%s", err, b)
	}
	t.Logf("fleet summary:\n%s", b)
	return &s
}

// requireMetric parses a host's metrics file with Prometheus' text parser
// and checks the last run's result.
func requireMetric(t *testing.T, path, result string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	fam, ok := fams["liveswap_last_run_result"]
	if !ok {
		t.Fatalf("%s has no liveswap_last_run_result", path)
	}
	for _, m := range fam.Metric {
		for _, l := range m.Label {
			if l.GetName() == "result" && l.GetValue() == result && m.GetGauge().GetValue() == 1 {
				return
			}
		}
	}
	t.Errorf("%s: liveswap_last_run_result{result=%q} is not 1", path, result)
}

// TestFleetRollingUpgrade runs the Ansible playbook against three local
// hosts, each its own liveswapd unit with nginx serving. The first run
// upgrades all three (1.0.0 -> 1.0.1). The second run (-> 1.0.2) gives host2
// a binary that claims the right version and exits at start: host1 is
// upgraded, host2 rolled back, the rollout stops, host3 is left untouched,
// and the summary says so. A third run, where host3's binary is a minor
// jump, fails the gate: no host is changed. Through every run the test's
// own witness probes each host's nginx: no probe may fail, no process change.
func TestFleetRollingUpgrade(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, "ansible-playbook")
	sd := testbed.StartSystemd(t)
	liveswap := testbed.Build(t, "liveswap", "e2e")
	work := t.TempDir()

	var hosts []*fleetHost
	for i := 1; i <= 3; i++ {
		l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
		h := &fleetHost{name: fmt.Sprintf("host%d", i), l: l, state: filepath.Join(work, fmt.Sprintf("state-%d", i))}
		h.web = testbed.RunNginx(t, l.Host, "host")
		hosts = append(hosts, h)
	}
	env := map[string]string{}
	for _, kv := range sd.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	summary := filepath.Join(work, "summary.json")
	inventory := func(newBin string, override map[string]string) map[string]any {
		hv := map[string]any{}
		for _, h := range hosts {
			v := map[string]any{
				"liveswap_unit":          h.l.Unit,
				"liveswap_endpoint":      h.l.Host,
				"liveswap_daemon_config": h.l.ConfigPath,
				"liveswap_state_dir":     h.state,
				"liveswap_probes":        []string{h.web.Name + "=" + h.web.Target()},
				"liveswap_metrics_file":  filepath.Join(work, h.name+".prom"),
			}
			if b, ok := override[h.name]; ok {
				v["liveswap_new_binary"] = b
			}
			hv[h.name] = v
		}
		return map[string]any{"all": map[string]any{
			"vars": map[string]any{
				"ansible_connection":         "local",
				"ansible_python_interpreter": "/usr/bin/python3",
				"liveswap_bin":               liveswap,
				"liveswap_new_binary":        newBin,
				"liveswap_target":            "liveswapd",
				"liveswap_systemd":           "user",
				"liveswap_environment":       env,
				"liveswap_summary_file":      summary,
			},
			"hosts": hv,
		}}
	}
	before := map[string]testbed.State{}
	for _, h := range hosts {
		before[h.name] = testbed.Inspect(t, h.l.Host, h.web.Name)
	}
	requireServing := func(t *testing.T) {
		t.Helper()
		for _, h := range hosts {
			a := testbed.Inspect(t, h.l.Host, h.web.Name)
			if b := before[h.name]; !a.Running || a.Pid != b.Pid || a.StartedAt != b.StartedAt {
				t.Errorf("%s: nginx interrupted: before %+v after %+v", h.name, b, a)
			}
		}
	}

	// The test's own witness on every host across each playbook run: its
	// probes every 20 ms (not the playbook's) and the docker CLI.
	watchFleet := func(t *testing.T) (stop func()) {
		t.Helper()
		var ws []*testbed.Witness
		for _, h := range hosts {
			w := testbed.Watch(t, h.l.Host, h.web)
			w.AwaitProbes(t, 5)
			ws = append(ws, w)
		}
		return func() {
			t.Helper()
			for i, w := range ws {
				w.Stop(t)
				for _, bad := range w.Uninterrupted() {
					t.Errorf("%s: %s", hosts[i].name, bad)
				}
			}
		}
	}

	t.Run("every host upgraded", func(t *testing.T) {
		stopWitness := watchFleet(t)
		newBin := testbed.Build(t, "liveswapd", "1.0.1-e2e")
		release(t, newBin)
		code, out := runPlaybook(t, sd, work, inventory(newBin, nil))
		if code != 0 {
			t.Fatalf("ansible-playbook exit %d\n%s", code, out)
		}
		s := readSummary(t, summary)
		if s.Schema != "liveswap.fleet/v1" || s.Rollout != "complete" || s.Upgraded != 3 || len(s.Hosts) != 3 {
			t.Fatalf("summary: rollout %s, %d upgraded of %d, want complete 3 of 3", s.Rollout, s.Upgraded, len(s.Hosts))
		}
		for i, h := range s.Hosts {
			if h.Host != hosts[i].name || h.Result != "upgraded" || h.FromVersion != testbed.LiveswapdVersion || h.ToVersion != "1.0.1-e2e" ||
				h.Preflight != "passed" || h.Probes != 1 || h.FailedProbes != 0 || h.DowntimeMS == nil {
				t.Errorf("summary of %s: %+v", hosts[i].name, h)
			}
		}
		for _, h := range hosts {
			if v := daemonVersion(t, h.l.Host); v != "1.0.1-e2e" {
				t.Errorf("%s runs %s, want 1.0.1-e2e", h.name, v)
			}
			requireMetric(t, filepath.Join(work, h.name+".prom"), "upgraded")
		}
		stopWitness()
		requireServing(t)
	})
	if t.Failed() {
		return
	}

	t.Run("broken binary on host2 stops the rollout", func(t *testing.T) {
		stopWitness := watchFleet(t)
		newBin := testbed.Build(t, "liveswapd", "1.0.2-e2e")
		release(t, newBin)
		broken := testbed.BuildPackage(t, "./e2e/testdata/faultd", "liveswapd", "-X main.version=1.0.2-e2e -X main.mode=exit")
		release(t, broken)
		host3SHA := testbed.SHA256(t, hosts[2].l.Bin)
		code, out := runPlaybook(t, sd, work, inventory(newBin, map[string]string{"host2": broken}))
		if code == 0 {
			t.Fatalf("ansible-playbook exit 0 although host2 could not be upgraded\n%s", out)
		}
		if !strings.Contains(out, "host2 ended rolled-back") {
			t.Errorf("the playbook output does not say why it stopped:\n%s", out)
		}
		s := readSummary(t, summary)
		if s.Rollout != "stopped" || s.StoppedAt != "host2" || s.Upgraded != 1 {
			t.Fatalf("summary: rollout %s at %q, %d upgraded; want stopped at host2, 1 upgraded", s.Rollout, s.StoppedAt, s.Upgraded)
		}
		want := []struct{ result, to string }{{"upgraded", "1.0.2-e2e"}, {"rolled-back", "1.0.1-e2e"}, {"not-run", ""}}
		for i, h := range s.Hosts {
			if h.Result != want[i].result || h.ToVersion != want[i].to || h.Preflight != "passed" {
				t.Errorf("summary of %s: result %s to %q, want %s to %q (%+v)", h.Host, h.Result, h.ToVersion, want[i].result, want[i].to, h)
			}
		}
		if s.Hosts[1].Error == "" || s.Hosts[1].FailedProbes != 0 {
			t.Errorf("host2 summary: %+v, want the error and no failed probe", s.Hosts[1])
		}
		// Witnesses: the daemons' own versions and host3's files.
		for i, v := range []string{"1.0.2-e2e", "1.0.1-e2e", "1.0.1-e2e"} {
			if got := daemonVersion(t, hosts[i].l.Host); got != v {
				t.Errorf("%s runs %s, want %s", hosts[i].name, got, v)
			}
		}
		if got := testbed.SHA256(t, hosts[2].l.Bin); got != host3SHA {
			t.Errorf("host3's binary changed")
		}
		if _, err := os.Stat(hosts[2].l.Bin + ".liveswap-backup-1.0.1-e2e"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("host3 has a backup of 1.0.1-e2e: it was touched (%v)", err)
		}
		requireMetric(t, filepath.Join(work, "host1.prom"), "upgraded")
		requireMetric(t, filepath.Join(work, "host2.prom"), "rolled-back")
		stopWitness()
		requireServing(t)
	})
	if t.Failed() {
		return
	}

	t.Run("a failed preflight on host3 aborts before any change", func(t *testing.T) {
		stopWitness := watchFleet(t)
		newBin := testbed.Build(t, "liveswapd", "1.0.3-e2e")
		release(t, newBin)
		// A minor jump: version.policy fails on host3 only.
		minor := testbed.Build(t, "liveswapd", "1.1.0-e2e")
		release(t, minor)
		shas := map[string]string{}
		for _, h := range hosts {
			shas[h.name] = testbed.SHA256(t, h.l.Bin)
		}
		code, out := runPlaybook(t, sd, work, inventory(newBin, map[string]string{"host3": minor}))
		if code == 0 || !strings.Contains(out, "preflight failed on host3; no host was changed") {
			t.Fatalf("ansible-playbook exit %d, want a failure naming host3\n%s", code, out)
		}
		s := readSummary(t, summary)
		if s.Rollout != "gate-failed" || s.Upgraded != 0 {
			t.Fatalf("summary: rollout %s, %d upgraded; want gate-failed, 0", s.Rollout, s.Upgraded)
		}
		for i, h := range s.Hosts {
			wantPreflight := "passed"
			if i == 2 {
				wantPreflight = "failed"
			}
			if h.Result != "not-run" || h.Preflight != wantPreflight {
				t.Errorf("summary of %s: result %s preflight %s, want not-run %s", h.Host, h.Result, h.Preflight, wantPreflight)
			}
		}
		if !strings.Contains(s.Hosts[2].Error, "version.policy") {
			t.Errorf("host3's error %q does not name version.policy", s.Hosts[2].Error)
		}
		for i, v := range []string{"1.0.2-e2e", "1.0.1-e2e", "1.0.1-e2e"} {
			if got := daemonVersion(t, hosts[i].l.Host); got != v {
				t.Errorf("%s runs %s, want %s", hosts[i].name, got, v)
			}
			if got := testbed.SHA256(t, hosts[i].l.Bin); got != shas[hosts[i].name] {
				t.Errorf("%s's binary changed although the gate failed", hosts[i].name)
			}
		}
		stopWitness()
		requireServing(t)
	})
}
