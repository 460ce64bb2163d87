package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveswap/liveswap/plan"
)

func TestCompare(t *testing.T) {
	base := Container{ID: "aaaaaaaaaaaa1", Name: "web", Pid: 10, StartedAt: "t0", Identity: map[string]string{"redis_run_id": "r1"}}
	tests := []struct {
		name   string
		after  []Container
		reason string // "" = not interrupted
	}{
		{"same process", []Container{base}, ""},
		{"gone", nil, "no longer running"},
		{"new pid", []Container{{ID: base.ID, Name: "web", Pid: 11, StartedAt: "t0", Identity: base.Identity}}, "pid changed 10 -> 11"},
		{"restarted in place", []Container{{ID: base.ID, Name: "web", Pid: 10, StartedAt: "t1", Identity: base.Identity}}, "restarted at t1"},
		{"restart count", []Container{{ID: base.ID, Pid: 10, StartedAt: "t0", RestartCount: 1, Identity: base.Identity}}, "restart count 0 -> 1"},
		{"new redis run_id", []Container{{ID: base.ID, Pid: 10, StartedAt: "t0", Identity: map[string]string{"redis_run_id": "r2"}}}, "redis_run_id changed r1 -> r2"},
		{"identity lost", []Container{{ID: base.ID, Pid: 10, StartedAt: "t0"}}, "redis_run_id changed r1 -> (none)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := Compare(&Snapshot{Containers: []Container{base}}, &Snapshot{Containers: tt.after})
			if len(ch) != 1 {
				t.Fatalf("%d changes", len(ch))
			}
			if got := ch[0].Interrupted; got != (tt.reason != "") {
				t.Fatalf("interrupted = %v (%s)", got, ch[0].Reason)
			}
			if !strings.Contains(ch[0].Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", ch[0].Reason, tt.reason)
			}
		})
	}
}

// TestCompareHealth: a healthcheck that got worse is named; one that is
// still starting, or was already unhealthy, is not held against the swap.
func TestCompareHealth(t *testing.T) {
	tests := []struct {
		before, after string
		reason        string // "" = not interrupted
	}{
		{"", "", ""},
		{"healthy", "healthy", ""},
		{"starting", "healthy", ""},
		{"starting", "unhealthy", ""},
		{"unhealthy", "unhealthy", ""},
		{"unhealthy", "healthy", ""},
		{"healthy", "starting", ""},
		{"", "healthy", ""},
		{"healthy", "unhealthy", "health healthy -> unhealthy"},
		{"healthy", "", "healthcheck no longer reported (was healthy)"},
		{"starting", "", "healthcheck no longer reported (was starting)"},
	}
	for _, tt := range tests {
		t.Run(tt.before+"->"+tt.after, func(t *testing.T) {
			b := Container{ID: "aaaaaaaaaaaa1", Name: "web", Pid: 10, StartedAt: "t0", Health: tt.before}
			a := b
			a.Health = tt.after
			ch := Compare(&Snapshot{Containers: []Container{b}}, &Snapshot{Containers: []Container{a}})
			if got := ch[0].Interrupted; got != (tt.reason != "") {
				t.Fatalf("interrupted = %v (%s)", got, ch[0].Reason)
			}
			if ch[0].Reason != tt.reason || ch[0].HealthBefore != tt.before || ch[0].HealthAfter != tt.after {
				t.Errorf("reason %q, health %q -> %q; want %q", ch[0].Reason, ch[0].HealthBefore, ch[0].HealthAfter, tt.reason)
			}
		})
	}
}

func TestVersionMatches(t *testing.T) {
	tests := []struct {
		reported, want string
		ok             bool
	}{
		{"20.10.24+dfsg1", "20.10.24", true},
		{"20.10.24", "20.10.24", true},
		{"1.0.1", "1.0.1", true},
		{"20.10.25", "20.10.2", false},
		{"20.10.24", "20.10.24+dfsg1", false},
		{"1.0.10", "1.0.1", false},
	}
	for _, tt := range tests {
		if got := VersionMatches(tt.reported, tt.want); got != tt.ok {
			t.Errorf("VersionMatches(%q, %q) = %v", tt.reported, tt.want, got)
		}
	}
}

func TestJournalLast(t *testing.T) {
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Target: plan.Target{Unit: "docker.service"}}
	swaps := []Swap{{Path: "/usr/sbin/dockerd", Staged: "/usr/sbin/dockerd.liveswap-new", Backup: "/usr/sbin/dockerd.liveswap-backup-1"}}
	for _, e := range []Entry{
		{Run: "r1", Phase: "lock", Status: "begin", Plan: p},
		{Run: "r1", Phase: "end", Status: "end", Result: Upgraded},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Begin("r2", p); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{
		{Run: "r2", Phase: "snapshot", Status: "info", From: "20.10.23"},
		{Run: "r2", Phase: "stage", Status: "done", Swaps: swaps},
		{Run: "r2", Phase: "swap", Status: "started"},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	// A crash mid-write leaves a torn line; it must not hide the rest.
	f, _ := os.OpenFile(j.path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"run":"r2","phase":"sw`)
	f.Close()
	st, err := j.Last()
	if err != nil {
		t.Fatal(err)
	}
	if st.Run != "r2" || st.Ended() || st.From != "20.10.23" || !st.Done["stage"] || st.Done["swap"] ||
		st.LastPhase != "swap" || !reflect.DeepEqual(st.Swaps, swaps) || st.Plan.Target.Unit != "docker.service" {
		t.Fatalf("state = %+v", st)
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSwapInAndBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dockerd")
	write(t, path, "old")
	write(t, filepath.Join(dir, "new"), "new")
	s := Swap{Path: path, Staged: stagedName(path, "r1"), Backup: backupName(path, "20.10.23+dfsg1")}
	var fs OSFiles
	if err := fs.Stage(t.Context(), filepath.Join(dir, "new"), s.Staged, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := swapIn(fs, s); err != nil {
		t.Fatal(err)
	}
	if read(t, path) != "new" || read(t, s.Backup) != "old" {
		t.Fatalf("after swap: target %q backup %q", read(t, path), read(t, s.Backup))
	}
	// A second swapIn (a resumed run) must not overwrite the backup.
	if err := swapIn(fs, s); err != nil || read(t, s.Backup) != "old" {
		t.Fatalf("repeated swapIn: %v, backup %q", err, read(t, s.Backup))
	}
	if err := swapBack(fs, s); err != nil {
		t.Fatal(err)
	}
	if read(t, path) != "old" || read(t, s.Backup) != "old" {
		t.Fatalf("after rollback: target %q backup %q", read(t, path), read(t, s.Backup))
	}
}

func TestStageChecksSHA(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "new"), "new")
	dst := filepath.Join(dir, "staged")
	err := OSFiles{}.Stage(t.Context(), filepath.Join(dir, "new"), dst, strings.Repeat("0", 64), nil)
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("mismatch not caught: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("bad staged copy left behind: %v", err)
	}
}

func TestPruneBackups(t *testing.T) {
	tests := []struct {
		name    string
		keep    int
		protect int // index of the protected backup, oldest first
		removed []int
	}{
		{"the oldest protected survives past the keep count", 2, 0, []int{1}},
		{"the newest protected: the two newest kept", 2, 3, []int{0, 1}},
		{"keep one, protect the oldest", 1, 0, []int{1, 2}},
		{"keep all", 4, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "liveswapd")
			var names []string
			for _, v := range []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"} {
				n := backupName(path, v)
				if len(names) > 0 {
					waitCtimeAfter(t, dir, names[len(names)-1])
				}
				write(t, n, v)
				names = append(names, n)
			}
			removed, err := pruneBackups(OSFiles{}, path, tt.keep, names[tt.protect])
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range tt.removed {
				want = append(want, names[i])
			}
			sort.Strings(removed)
			if !reflect.DeepEqual(removed, want) {
				t.Fatalf("removed %v, want %v", removed, want)
			}
			for _, n := range names {
				if _, err := os.Stat(n); (err == nil) == contains(want, n) {
					t.Errorf("%s: exists %v, removed %v", n, err == nil, contains(want, n))
				}
			}
		})
	}
}

// waitCtimeAfter returns once a file created now in dir gets a change time
// later than prev's: file times tick with the kernel's clock, not each
// nanosecond, so the next backup must not share prev's time.
func waitCtimeAfter(t *testing.T, dir, prev string) {
	t.Helper()
	ctime := func(p string) int64 {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ctim.Nano()
	}
	before := ctime(prev)
	probe := filepath.Join(dir, "tick")
	deadline := time.Now().Add(5 * time.Second)
	for {
		write(t, probe, "")
		if ctime(probe) > before {
			os.Remove(probe)
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("file change times did not advance in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestReportJSONFields pins the report's JSON schema: scripts and the fleet
// playbook read these names. Every field is set, so those omitted when
// empty are pinned too.
func TestReportJSONFields(t *testing.T) {
	full := &Report{Result: Upgraded, Run: "r", Target: "docker", Unit: "docker.service", FromVersion: "1", ToVersion: "2",
		Components: []ComponentReport{{Name: "containerd", Unit: "containerd.service", FromVersion: "1.6.20", ToVersion: "1.7.24"}},
		Containers: []Change{{Name: "web", ID: "i", PidBefore: 1, PidAfter: 2, StartedAtBefore: "a", StartedAtAfter: "b", Interrupted: true, Reason: "pid changed", DataLost: true, Data: "redis keys 3 -> 0"}},
		Probes:     []ProbeReport{{Name: "web", Kind: "http", Target: "t", Sent: 1, Failed: 1, MaxGapMS: 1, P99MS: 1}},
		Phases:     []PhaseReport{{Name: "canary", Status: PhaseSkipped, DurationMS: 1, Error: "e", Detail: "no image"}},
		Checks:     []CheckResult{{ID: "unit.kill-mode", Status: "fail", Message: "m", Remedy: "r"}},
		Steps:      []string{"s"}, DaemonDowntimeMS: 1, Error: "e", Remedy: "r"}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	keys := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	want := map[string][]string{
		"report": {"api_calls", "api_errors", "checks", "components", "containers", "daemon_downtime_ms", "error", "from_version", "phases", "probes", "remedy", "result",
			"run", "steps", "target", "to_version", "unit"},
		"components": {"from_version", "name", "to_version", "unit"},
		"containers": {"data", "data_lost", "id", "interrupted", "name", "pid_after", "pid_before", "reason", "started_at_after", "started_at_before"},
		"probes":     {"failed", "kind", "max_gap_ms", "name", "p99_ms", "sent", "target"},
		"phases":     {"detail", "duration_ms", "error", "name", "status"},
		"checks":     {"id", "message", "remedy", "status"},
	}
	got := map[string][]string{"report": keys(m)}
	for _, k := range []string{"components", "containers", "probes", "phases", "checks"} {
		got[k] = keys(m[k].([]any)[0])
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON fields changed:\n got %v\nwant %v", got, want)
	}
	// Empty, the optional fields are left out and the lists stay lists.
	b, _ = json.Marshal(&Report{Containers: []Change{{}}, Probes: []ProbeReport{}, Phases: []PhaseReport{{}}})
	m = nil
	json.Unmarshal(b, &m)
	if got, want := keys(m), []string{"api_calls", "api_errors", "components", "containers", "daemon_downtime_ms", "from_version", "phases", "probes", "result", "run", "target", "to_version", "unit"}; !reflect.DeepEqual(got, want) {
		t.Errorf("empty report fields %v, want %v", got, want)
	}
	if got := keys(m["containers"].([]any)[0]); contains(got, "reason") {
		t.Errorf("an empty reason is written: %v", got)
	}
}

func TestExitCodes(t *testing.T) {
	for result, code := range map[Result]int{Upgraded: 0, Enabled: 0, AlreadyEnabled: 0, Planned: 0, Reverted: 0,
		Refused: 1, RolledBack: 3, Restored: 3, Failed: 4, RevertedUnverified: 5, "": 4} {
		if got := (&Report{Result: result}).ExitCode(); got != code {
			t.Errorf("%q -> %d, want %d", result, got, code)
		}
	}
}

func TestRollbackVerdict(t *testing.T) {
	undo := &Phase{Name: "rollback", Undo: true}
	tests := []struct {
		name       string
		err        error
		noSnapshot string
		probes     int
		result     Result
		errHas     string
		remedyHas  string
	}{
		{"compared and probed", nil, "", 2, Reverted, "", ""},
		{"daemon was down: not verified", nil, "no snapshot before the restart (engine down)", 2, RevertedUnverified,
			"not verified: no snapshot before the restart (engine down)", "the 2 workload probes failed no more than"},
		{"daemon was down, no probes either", nil, "no snapshot (down)", 0, RevertedUnverified, "not verified", "no workload probes either"},
		{"workloads interrupted by the rollback", &PhaseError{Phase: undo, Err: fmt.Errorf("%w: web (pid changed 1 -> 2)", ErrInterrupted)}, "", 2,
			Failed, "web (pid changed 1 -> 2)", "previous binary runs again, but workloads were interrupted"},
		{"restoring failed", &PhaseError{Phase: undo, Err: errors.New("rename: permission denied")}, "", 2,
			Failed, "permission denied", "restore the backups listed by `liveswap status` by hand"},
		{"refused before touching", &PhaseError{Phase: &Phase{Name: "lock"}, Err: errors.New("another liveswap upgrade")}, "", 2,
			Refused, "another liveswap upgrade", "nothing was changed"},
		{"interrupted before it began", &PhaseError{Phase: &Phase{Name: "snapshot"}, Err: errors.New("interrupt received before the rollback began")}, "", 2,
			Refused, "interrupt received", "run `liveswap rollback` again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			result, e, remedy := rollbackVerdict(tt.err, tt.noSnapshot, tt.probes)
			if result != tt.result || !strings.Contains(e, tt.errHas) || !strings.Contains(remedy, tt.remedyHas) || (tt.errHas == "") != (e == "") {
				t.Errorf("= %s, %q, %q; want %s, error with %q, remedy with %q", result, e, remedy, tt.result, tt.errHas, tt.remedyHas)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name       string
		containers []Change
		probes     []ProbeReport
		max        int
		want       string // "" = nothing interrupted
	}{
		{"clean", []Change{{Name: "web"}}, []ProbeReport{{Name: "web", Sent: 10}}, 0, ""},
		{"a container", []Change{{Name: "web", Interrupted: true, Reason: "pid changed 1 -> 2"}}, nil, 0, "web (pid changed 1 -> 2)"},
		{"a probe over the limit", nil, []ProbeReport{{Name: "cache", Sent: 10, Failed: 2}}, 1, "probe cache: 2 of 10 failed"},
		{"a probe within the limit", nil, []ProbeReport{{Name: "cache", Sent: 10, Failed: 1}}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Judge(tt.containers, tt.probes, tt.max)
			if (err == nil) != (tt.want == "") || (err != nil && (!errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), tt.want))) {
				t.Errorf("Judge = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCompareWithoutSnapshot(t *testing.T) {
	after := &Snapshot{Containers: []Container{{ID: "a", Name: "web", Pid: 1}}}
	if got := Compare(nil, after); got != nil {
		t.Errorf("Compare(nil, after) = %v, want nothing to compare", got)
	}
	if got := Compare(&Snapshot{Containers: []Container{{ID: "a", Name: "web", Pid: 1}}}, nil); len(got) != 1 || !got[0].Interrupted {
		t.Errorf("Compare(before, nil) = %v, want web gone", got)
	}
}

// TestCompareData: a redis that lost keys without a TTL lost data, even
// when its process is the same; keys with a TTL may expire meanwhile.
func TestCompareData(t *testing.T) {
	before := Container{ID: "bbbbbbbbbbbb1", Name: "cache", Pid: 20, StartedAt: "t0", Data: &Data{RedisKeys: 100, RedisExpires: 10}}
	tests := []struct {
		name              string
		after             *Data
		pid               int
		lost, interrupted bool
		judge             string // substring of Judge's error, "" for none
	}{
		{"kept", &Data{RedisKeys: 100, RedisExpires: 10}, 20, false, false, ""},
		{"more keys", &Data{RedisKeys: 150}, 20, false, false, ""},
		{"expiring keys went", &Data{RedisKeys: 90}, 20, false, false, ""},
		{"persistent keys went, same process", &Data{RedisKeys: 89}, 20, true, false, "cache (data lost: redis keys 100 -> 89: 1 keys without a TTL lost)"},
		{"restarted and emptied", &Data{RedisKeys: 0}, 21, true, true, "pid changed 20 -> 21; data lost: redis keys 100 -> 0"},
		{"gone", nil, 0, true, true, "no longer running; data lost: redis keys 100 -> none: the container is gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := before
			a.Pid, a.Data = tt.pid, tt.after
			after := &Snapshot{Containers: []Container{a}}
			if tt.after == nil {
				after.Containers = nil
			}
			ch := Compare(&Snapshot{Containers: []Container{before}}, after)
			if ch[0].DataLost != tt.lost || ch[0].Interrupted != tt.interrupted {
				t.Fatalf("data lost %v interrupted %v (%s; %s), want %v %v", ch[0].DataLost, ch[0].Interrupted, ch[0].Data, ch[0].Reason, tt.lost, tt.interrupted)
			}
			err := Judge(ch, nil, 0)
			if (err == nil) != (tt.judge == "") || (err != nil && !strings.Contains(err.Error(), tt.judge)) {
				t.Errorf("Judge = %v, want %q", err, tt.judge)
			}
		})
	}
}
