package checks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// PipeBuffer is the capacity of the FIFO a container's stdout and stderr
// write into while the daemon is down (Linux's default pipe size; Docker's
// live-restore documentation says "typically 64 KiB"). When it is full the
// container blocks on its next write.
const PipeBuffer = 64 << 10

// workloadChecks look at the running containers.
func workloadChecks() []Check {
	return []Check{
		{ID: "workload.health", Description: "no running container is unhealthy or restarting (every container is listed)", Func: checkWorkloadHealth},
		{ID: "workload.restart-policy", Description: "every running container has a restart policy", Func: checkRestartPolicy},
		{ID: "workload.healthcheck", Description: "every running container has a healthcheck", Func: checkHealthcheck},
		{ID: "workload.log-rate", Description: "no container logs fast enough to fill its 64 KiB pipe during the planned downtime (dockerd)", Func: checkLogRate},
	}
}

func restartPolicy(c container.InspectResponse) string {
	if c.HostConfig == nil {
		return ""
	}
	p := string(c.HostConfig.RestartPolicy.Name)
	if p == "on-failure" && c.HostConfig.RestartPolicy.MaximumRetryCount > 0 {
		p += fmt.Sprintf(":%d", c.HostConfig.RestartPolicy.MaximumRetryCount)
	}
	return p
}

func hasHealthcheck(c container.InspectResponse) bool {
	if c.Config == nil || c.Config.Healthcheck == nil || len(c.Config.Healthcheck.Test) == 0 {
		return false
	}
	return c.Config.Healthcheck.Test[0] != "NONE"
}

func healthStatus(c container.InspectResponse) string {
	if c.State == nil || c.State.Health == nil {
		return "none"
	}
	return string(c.State.Health.Status)
}

func checkWorkloadHealth(ctx context.Context, env *Env) Result {
	ctrs, err := env.Containers(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	if len(ctrs) == 0 {
		return ok("no running containers")
	}
	var bad, all []string
	for _, c := range ctrs {
		state := "running"
		if c.State != nil {
			state = string(c.State.Status)
		}
		line := fmt.Sprintf("%s (%s): %s, pid %d, health %s, restart policy %s", containerName(c), shortID(c.ID), state, pidOf(c), healthStatus(c), orNone(restartPolicy(c)))
		all = append(all, line)
		switch {
		case c.State != nil && c.State.Restarting:
			bad = append(bad, containerName(c)+" is restarting")
		case healthStatus(c) == "unhealthy":
			bad = append(bad, containerName(c)+" is unhealthy")
		}
	}
	if len(bad) > 0 {
		r := fail("fix or stop these containers first: after the upgrade nobody could tell whether the upgrade broke them",
			"%s", strings.Join(bad, "; "))
		r.Details = all
		return r
	}
	r := ok("%d running container(s), none unhealthy or restarting", len(ctrs))
	r.Details = all
	return r
}

func checkRestartPolicy(ctx context.Context, env *Env) Result {
	ctrs, err := env.Containers(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	var missing []string
	for _, c := range ctrs {
		if p := restartPolicy(c); p == "" || p == "no" {
			missing = append(missing, containerName(c))
		}
	}
	if len(missing) > 0 {
		return warn("give them a restart policy (docker update --restart unless-stopped NAME) so they come back if the daemon has to restart them",
			"no restart policy: %s", strings.Join(missing, ", "))
	}
	return ok("%d running container(s), all with a restart policy", len(ctrs))
}

func checkHealthcheck(ctx context.Context, env *Env) Result {
	ctrs, err := env.Containers(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	var missing []string
	for _, c := range ctrs {
		if !hasHealthcheck(c) {
			missing = append(missing, containerName(c))
		}
	}
	if len(missing) > 0 {
		return warn("add a HEALTHCHECK (or --health-cmd) so the daemon can tell whether they still serve; liveswap's own probes (plan workloads) cover the upgrade itself",
			"no healthcheck: %s", strings.Join(missing, ", "))
	}
	return ok("%d running container(s), all with a healthcheck", len(ctrs))
}

// logWindow is how far back the log rate is measured.
const logWindow = 30 * time.Second

// maxLogRead bounds what is read per container: beyond it the rate is
// certainly too high.
const maxLogRead = 8 << 20

// LogRisk says whether a container writing rate bytes per second fills
// its pipe within downtime, and how soon.
func LogRisk(rate float64, downtime time.Duration) (full time.Duration, risky bool) {
	if rate <= 0 {
		return 0, false
	}
	full = time.Duration(float64(PipeBuffer) / rate * float64(time.Second))
	return full, full <= downtime
}

func checkLogRate(ctx context.Context, env *Env) Result {
	if !env.Plan.Spec().LogPipes {
		return skip("not applicable to %s: its shims keep draining the containers' output while it is down", env.Plan.Target.Kind)
	}
	ctrs, err := env.Containers(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	c, err := env.Engine(ctx)
	if err != nil {
		return env.Blocked("engine.reachable", err)
	}
	down := env.Options.Downtime
	var risky, details []string
	for _, ctr := range ctrs {
		rate, window, err := logRate(ctx, c, ctr)
		name := containerName(ctr)
		if err != nil {
			details = append(details, fmt.Sprintf("%s: rate unknown: %v", name, err))
			continue
		}
		full, bad := LogRisk(rate, down)
		line := fmt.Sprintf("%s: %s/s over the last %s", name, humanBytes(int64(rate)), window.Round(time.Second))
		if rate > 0 {
			line += fmt.Sprintf(", fills 64 KiB in %s", full.Round(100*time.Millisecond))
		}
		details = append(details, line)
		if bad {
			risky = append(risky, fmt.Sprintf("%s (%s/s, full after %s)", name, humanBytes(int64(rate)), full.Round(100*time.Millisecond)))
		}
	}
	if len(risky) > 0 {
		r := warn("expect these containers to block on writes while dockerd is down; lower their log volume, or accept the stall (they resume when dockerd drains the pipe)",
			"logging fast enough to fill the 64 KiB pipe within the planned downtime of %s: %s", down, strings.Join(risky, ", "))
		r.Details = details
		return r
	}
	r := ok("%d container(s) log slowly enough for a downtime of %s", len(ctrs), down)
	r.Details = details
	return r
}

// logsAPI is the part of the engine the log-rate estimate uses.
type logsAPI interface {
	Logs(ctx context.Context, id string, since time.Time) (io.ReadCloser, error)
}

// logRate estimates the bytes per second a container wrote to stdout and
// stderr over the last logWindow (or since it started, if later), from
// what the daemon's log driver kept.
func logRate(ctx context.Context, api logsAPI, c container.InspectResponse) (float64, time.Duration, error) {
	if c.HostConfig != nil {
		switch c.HostConfig.LogConfig.Type {
		case "none", "syslog", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries":
			// Nothing readable back; with "none" dockerd still drains the
			// pipe but keeps nothing to measure.
			return 0, 0, fmt.Errorf("log driver %q keeps no readable log", c.HostConfig.LogConfig.Type)
		}
	}
	now := time.Now()
	window := logWindow
	if c.State != nil {
		if started, err := time.Parse(time.RFC3339Nano, c.State.StartedAt); err == nil && now.Sub(started) < window {
			window = now.Sub(started)
		}
	}
	if window < time.Second {
		return 0, window, fmt.Errorf("started less than a second ago")
	}
	since := now.Add(-window)
	rc, err := api.Logs(ctx, c.ID, since)
	if err != nil {
		return 0, window, err
	}
	defer rc.Close()
	var n countWriter
	src := io.LimitReader(rc, maxLogRead)
	if c.Config != nil && c.Config.Tty {
		_, err = io.Copy(&n, src)
	} else {
		_, err = stdcopy.StdCopy(&n, &n, src)
	}
	if err != nil && int64(n) < maxLogRead-(64<<10) {
		return 0, window, fmt.Errorf("reading logs: %w", err)
	}
	return float64(n) / window.Seconds(), window, nil
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func pidOf(c container.InspectResponse) int {
	if c.State == nil {
		return 0
	}
	return c.State.Pid
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
