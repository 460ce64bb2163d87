package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/upgrade"
)

// Arm is one measured window: a bare restart, a liveswap apply or nothing
// (idle), with the same probes and API watch around it.
type Arm struct {
	Kind        string    `json:"kind"` // bare, apply, idle
	Round       int       `json:"round"`
	Start       time.Time `json:"start"` // when the operation began
	APIDownMS   float64   `json:"api_unreachable_ms"`
	APICalls    int       `json:"api_calls"`  // GET /_ping every 2 ms
	APIErrors   int       `json:"api_errors"` // refused, reset, an error status or no answer in a second
	NginxGapMS  float64   `json:"nginx_max_gap_ms"`
	RedisGapMS  float64   `json:"redis_max_gap_ms"`
	NginxSent   int       `json:"nginx_sent"`
	NginxFailed int       `json:"nginx_failed"`
	RedisSent   int       `json:"redis_sent"`
	RedisFailed int       `json:"redis_failed"`
	WallMS      float64   `json:"wall_ms"` // the operation alone, without settle and tail
	WindowMS    float64   `json:"window_ms"`
	PIDBefore   int       `json:"main_pid_before"`
	PIDAfter    int       `json:"main_pid_after"`
	Apply       *Apply    `json:"apply,omitempty"`
	Error       string    `json:"error,omitempty"`
	UnitState   string    `json:"unit_state,omitempty"` // after a failed operation
}

// Failed is every failed probe of the arm.
func (a Arm) Failed() int { return a.NginxFailed + a.RedisFailed }

// MaxGapMS is the longest gap of either workload.
func (a Arm) MaxGapMS() float64 { return max(a.NginxGapMS, a.RedisGapMS) }

// Apply is what one `liveswap apply` child process did and cost.
type Apply struct {
	Exit             int                `json:"exit"`
	Result           string             `json:"result"`
	DaemonDowntimeMS float64            `json:"daemon_downtime_ms"` // liveswap's own API watch (10 ms)
	Phases           map[string]float64 `json:"phases_ms"`
	PeakRSSKiB       int64              `json:"peak_rss_kib"`       // wait4 ru_maxrss: liveswap or a child it ran, whichever peaked higher
	OwnHWMKiB        int64              `json:"own_vmhwm_kib"`      // /proc/PID/status VmHWM, sampled every 5 ms
	CPUMS            float64            `json:"cpu_ms"`             // user + system, children it waited for included
	OwnCPUMS         float64            `json:"own_cpu_ms_sampled"` // /proc/PID/stat utime+stime, last sample
	Stderr           string             `json:"stderr,omitempty"`
}

const (
	settle = 300 * time.Millisecond // probes run before the operation starts
	tail   = 500 * time.Millisecond // and after it ends
)

// window runs op with both workloads probed every b.interval and the API
// watched every 2 ms, from settle before op until tail after it.
func (b *bed) window(kind string, round int, op func() error) Arm {
	arm := Arm{Kind: kind, Round: round}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Two restarts every few seconds exceed systemd's default start rate
	// limit (5 starts in 10 s): the sixth start would fail with
	// start-limit-hit. Resetting the counter, outside the timed part and
	// before every arm alike, keeps the benchmark's own pace out of it.
	if err := b.sd.Conn().ResetFailedUnitContext(ctx, b.unit); err != nil {
		b.t.Fatalf("reset-failed %s: %v", b.unit, err)
	}
	// A probe fails when it gets no answer in a second, as apply's own
	// probes (probe.Spec's default timeout) judge it.
	web, err1 := probe.Start(ctx, withTimeout(b.web.Spec(b.interval), time.Second))
	kv, err2 := probe.Start(ctx, withTimeout(b.kv.Spec(b.interval), time.Second))
	if err := errors.Join(err1, err2); err != nil {
		b.t.Fatalf("probes: %v", err)
	}
	api := engine.WatchDowntime(ctx, b.eng, 2*time.Millisecond)
	begin := time.Now()
	time.Sleep(settle)
	arm.PIDBefore = b.sd.MainPID(b.t, b.unit)
	t0 := time.Now()
	arm.Start = t0.UTC()
	if err := op(); err != nil {
		arm.Error = err.Error()
		arm.UnitState = b.unitState()
	}
	arm.WallMS = msSince(t0)
	time.Sleep(tail)
	arm.PIDAfter = b.sd.MainPID(b.t, b.unit)
	arm.APIDownMS = ms(api.Stop())
	arm.APICalls, arm.APIErrors = api.Calls()
	ws, ks := web.Stop(), kv.Stop()
	arm.WindowMS = msSince(begin)
	arm.NginxGapMS, arm.NginxSent, arm.NginxFailed = ws.MaxGapMS(), ws.Sent, ws.Failed
	arm.RedisGapMS, arm.RedisSent, arm.RedisFailed = ks.MaxGapMS(), ks.Sent, ks.Failed
	return arm
}

// unitState describes the unit after a failed operation, for the report.
func (b *bed) unitState() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var parts []string
	for _, get := range []struct {
		iface string
		names []string
	}{
		{"Unit", []string{"ActiveState", "SubState"}},
		{"Service", []string{"Result", "MainPID", "ExecMainCode", "ExecMainStatus", "NRestarts"}},
	} {
		props, err := b.sd.Conn().GetUnitTypePropertiesContext(ctx, b.unit, get.iface)
		if err != nil {
			parts = append(parts, err.Error())
			continue
		}
		for _, n := range get.names {
			parts = append(parts, fmt.Sprintf("%s=%v", n, props[n]))
		}
	}
	return strings.Join(parts, " ")
}

func withTimeout(s probe.Spec, d time.Duration) probe.Spec { s.Timeout = d; return s }

// bare restarts the unit over D-Bus, waits for the job and then for the
// API: what an operator's `systemctl restart` does, nothing more.
func (b *bed) bare() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ch := make(chan string, 1)
	if _, err := b.sd.Conn().RestartUnitContext(ctx, b.unit, "replace", ch); err != nil {
		return fmt.Errorf("RestartUnit %s: %w", b.unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("RestartUnit %s: job %s", b.unit, res)
		}
	case <-ctx.Done():
		return fmt.Errorf("RestartUnit %s: %w", b.unit, ctx.Err())
	}
	_, _, err := b.eng.WaitReady(ctx, 20*time.Millisecond)
	return err
}

// apply runs the built CLI, `liveswap apply PLAN --yes --output json`, as a
// child and records its report, peak RSS and CPU time.
func (b *bed) apply(a *Apply) error {
	state := filepath.Join(b.t.TempDir(), "state")
	cmd := exec.Command(b.liveswap, "apply", b.planFile, "--yes", "--output", "json", "--state-dir", state)
	cmd.Env = b.cliEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sampleProc(cmd.Process.Pid, stop, a)
	}()
	err := cmd.Wait()
	close(stop)
	wg.Wait()
	a.Exit = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		a.PeakRSSKiB = ru.Maxrss
		a.CPUMS = float64(time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Microseconds()) / 1000
	}
	var rep upgrade.Report
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		a.Stderr = tailOf(errb.String(), 2000)
		return fmt.Errorf("liveswap apply exit %d, report is not JSON (%v): %s", a.Exit, jerr, tailOf(out.String()+errb.String(), 2000))
	}
	a.Result, a.DaemonDowntimeMS = string(rep.Result), rep.DaemonDowntimeMS
	a.Phases = map[string]float64{}
	for _, p := range rep.Phases {
		a.Phases[p.Name] = p.DurationMS
	}
	if err != nil || rep.Result != upgrade.Upgraded {
		a.Stderr = tailOf(errb.String(), 2000)
		return fmt.Errorf("liveswap apply exit %d, result %s: %s %s", a.Exit, rep.Result, rep.Error, rep.Remedy)
	}
	return nil
}

// sampleProc reads the child's VmHWM and CPU ticks until stop; VmHWM only
// grows, so the last sample misses at most the final 5 ms of growth.
func sampleProc(pid int, stop <-chan struct{}, a *Apply) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if hwm := vmHWM(pid); hwm > a.OwnHWMKiB {
			a.OwnHWMKiB = hwm
		}
		if p, _ := procfs.Stat(pid); p.Ticks > 0 {
			a.OwnCPUMS = float64(p.Ticks) * 10 // USER_HZ is 100 on Linux
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func ms(d time.Duration) float64  { return float64(d.Microseconds()) / 1000 }
func msSince(t time.Time) float64 { return ms(time.Since(t)) }
func sleepFor(msec float64) func() error {
	return func() error { time.Sleep(time.Duration(msec * 1e6)); return nil }
}
