// Package upgrade swaps a container daemon's binary through systemd and
// proves that no workload noticed: preflight, lock, snapshot, stage, recheck, swap,
// restart, ready, canary, verify, then commit or roll back. Every phase
// transition is journaled so an interrupted run can be resumed or undone.
package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/plan"
)

// Snapshot is who was running at one moment.
type Snapshot struct {
	Taken      time.Time   `json:"taken"`
	Endpoint   string      `json:"endpoint"`
	Version    string      `json:"daemon_version"`
	Containers []Container `json:"containers"`
}

// Container is one running container and what identifies its process.
type Container struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Image        string            `json:"image"`
	Pid          int               `json:"pid"`
	StartedAt    string            `json:"started_at"`
	RestartCount int               `json:"restart_count"`
	Health       string            `json:"health,omitempty"`
	Identity     map[string]string `json:"identity,omitempty"` // e.g. redis_run_id
	Data         *Data             `json:"data,omitempty"`     // what the workload holds
}

// Data is what a workload holds: redis's key counts.
type Data struct {
	RedisKeys    int64 `json:"redis_keys"`
	RedisExpires int64 `json:"redis_expires"` // keys with a TTL: they may go by themselves
}

// TakeSnapshot records every running container at c, plus workload
// identity for the workloads given (redis run_id through the probe address).
func TakeSnapshot(ctx context.Context, c engine.Engine, workloads []plan.Workload) (*Snapshot, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.Running(ctx)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Taken: time.Now().UTC(), Endpoint: c.Address(), Version: st.Version}
	s.Containers, err = inspectAll(ctx, c, list)
	if err != nil {
		return nil, err
	}
	sort.Slice(s.Containers, func(i, j int) bool { return s.Containers[i].Name < s.Containers[j].Name })
	for _, w := range workloads {
		if w.Probe != probe.Redis {
			continue
		}
		ct := s.find(w.Container)
		if ct == nil {
			continue
		}
		info, err := probe.RedisInfo(ctx, w.Address, "server")
		if err != nil {
			return nil, fmt.Errorf("snapshot: redis identity of %s at %s: %w", w.Container, w.Address, err)
		}
		if ct.Identity == nil {
			ct.Identity = map[string]string{}
		}
		ct.Identity["redis_run_id"] = info["run_id"]
		keys, expires, err := probe.RedisKeyspace(ctx, w.Address)
		if err != nil {
			return nil, fmt.Errorf("snapshot: redis keyspace of %s at %s: %w", w.Container, w.Address, err)
		}
		ct.Data = &Data{RedisKeys: keys, RedisExpires: expires}
	}
	return s, nil
}

// inspectLimit bounds the inspects a snapshot has in flight: one at a time
// leaves the daemon and liveswap waiting on each other (0.8 ms a container
// on liveswapd, 1000 containers in 0.8 s); a few at once keep both busy
// without flooding a daemon that is also serving its workloads.
const inspectLimit = 8

// inspectAll inspects every listed container, inspectLimit at a time, and
// returns those still running, in list order. The first error ends it.
func inspectAll(ctx context.Context, c engine.Engine, list []container.Summary) ([]Container, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]Container, len(list))
	running := make([]bool, len(list))
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	next := make(chan int)
	for w := 0; w < min(inspectLimit, len(list)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				in, err := c.Inspect(ctx, list[i].ID)
				if err != nil {
					once.Do(func() { first = err; cancel() })
					continue
				}
				if in.State == nil || !in.State.Running {
					continue
				}
				ct := Container{ID: in.ID, Name: strings.TrimPrefix(in.Name, "/"), Pid: in.State.Pid,
					StartedAt: in.State.StartedAt, RestartCount: in.RestartCount}
				if in.Config != nil {
					ct.Image = in.Config.Image
				}
				if in.State.Health != nil {
					ct.Health = in.State.Health.Status
				}
				out[i], running[i] = ct, true
			}
		}()
	}
feed:
	for i := range list {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var cs []Container
	for i := range out {
		if running[i] {
			cs = append(cs, out[i])
		}
	}
	return cs, nil
}

func (s *Snapshot) find(nameOrID string) *Container {
	for i := range s.Containers {
		c := &s.Containers[i]
		if c.Name == nameOrID || c.ID == nameOrID || (len(nameOrID) >= 12 && strings.HasPrefix(c.ID, nameOrID)) {
			return c
		}
	}
	return nil
}

// WriteFile stores the snapshot as JSON (atomically).
func (s *Snapshot) WriteFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadSnapshot loads a snapshot written by WriteFile. Anything else is an
// error naming the file — an empty file, `null`, another JSON document or
// a container without an ID and PID — never an empty snapshot, which would
// make every comparison pass.
func ReadSnapshot(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot: %w", err)
	}
	s, err := parseSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a liveswap snapshot: %w (write one with `liveswap snapshot -o %s`)", path, err, path)
	}
	return s, nil
}

func parseSnapshot(b []byte) (*Snapshot, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("the file is empty")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("it holds null, not a JSON object")
	}
	for _, k := range []string{"taken", "containers"} {
		if _, ok := fields[k]; !ok {
			return nil, fmt.Errorf("it has no %q field", k)
		}
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.Taken.IsZero() {
		return nil, errors.New(`its "taken" time is zero`)
	}
	for i, c := range s.Containers {
		if c.ID == "" || c.Pid <= 0 {
			return nil, fmt.Errorf("containers[%d] has no id or pid", i)
		}
	}
	return &s, nil
}

// Change is how one container fared between two snapshots.
type Change struct {
	Name            string `json:"name"`
	ID              string `json:"id"`
	PidBefore       int    `json:"pid_before"`
	PidAfter        int    `json:"pid_after"`
	StartedAtBefore string `json:"started_at_before"`
	StartedAtAfter  string `json:"started_at_after"`
	// HealthBefore and HealthAfter are the healthcheck's status in each
	// snapshot, for containers that have one.
	HealthBefore string `json:"health_before,omitempty"`
	HealthAfter  string `json:"health_after,omitempty"`
	Interrupted  bool   `json:"interrupted"`
	Reason       string `json:"reason,omitempty"`
	// DataLost: keys without a TTL are gone (redis emptied by a restart,
	// or deleted meanwhile); Data says how many, before and after.
	DataLost bool   `json:"data_lost,omitempty"`
	Data     string `json:"data,omitempty"`
}

// Compare names every container of before that is not running the same
// process in after, and why. Containers started after before are ignored;
// without a before snapshot there is nothing to compare.
func Compare(before, after *Snapshot) []Change {
	if before == nil || len(before.Containers) == 0 {
		return nil
	}
	if after == nil {
		after = &Snapshot{}
	}
	// An index by ID: looking each container up with find would make
	// comparing n containers n² string comparisons.
	byID := make(map[string]*Container, len(after.Containers))
	for i := range after.Containers {
		c := &after.Containers[i]
		if _, dup := byID[c.ID]; !dup {
			byID[c.ID] = c
		}
	}
	out := make([]Change, 0, len(before.Containers))
	for _, b := range before.Containers {
		ch := Change{Name: b.Name, ID: b.ID, PidBefore: b.Pid, StartedAtBefore: b.StartedAt, HealthBefore: b.Health}
		a := byID[b.ID]
		if a == nil {
			a = after.find(b.ID)
		}
		var reasons []string
		switch {
		case a == nil:
			reasons = append(reasons, "no longer running")
		default:
			ch.PidAfter, ch.StartedAtAfter = a.Pid, a.StartedAt
			if a.Pid != b.Pid {
				reasons = append(reasons, fmt.Sprintf("pid changed %d -> %d", b.Pid, a.Pid))
			}
			if a.StartedAt != b.StartedAt {
				reasons = append(reasons, "restarted at "+a.StartedAt)
			}
			if a.RestartCount != b.RestartCount {
				reasons = append(reasons, fmt.Sprintf("restart count %d -> %d", b.RestartCount, a.RestartCount))
			}
			for k, v := range b.Identity {
				if a.Identity[k] != v {
					reasons = append(reasons, fmt.Sprintf("%s changed %s -> %s", k, v, orNone(a.Identity[k])))
				}
			}
			ch.HealthAfter = a.Health
			if r := healthChange(b.Health, a.Health); r != "" {
				reasons = append(reasons, r)
			}
		}
		if len(reasons) > 0 {
			ch.Interrupted = true
			ch.Reason = strings.Join(reasons, "; ")
		}
		if b.Data != nil && a == nil && b.Data.RedisKeys > b.Data.RedisExpires {
			ch.DataLost = true
			ch.Data = fmt.Sprintf("redis keys %d -> none: the container is gone", b.Data.RedisKeys)
		}
		if b.Data != nil && a != nil && a.Data != nil {
			ch.Data = fmt.Sprintf("redis keys %d -> %d", b.Data.RedisKeys, a.Data.RedisKeys)
			// Keys with a TTL may expire during the swap; the others go
			// only when deleted or when the server lost its memory.
			if a.Data.RedisKeys < b.Data.RedisKeys-b.Data.RedisExpires {
				ch.DataLost = true
				ch.Data += fmt.Sprintf(": %d keys without a TTL lost", b.Data.RedisKeys-b.Data.RedisExpires-a.Data.RedisKeys)
			}
		}
		out = append(out, ch)
	}
	return out
}

// healthChange names a healthcheck verdict that got worse: a healthy
// container that is now unhealthy, or a check the daemon no longer runs
// (a new daemon that lost it would leave the workload unwatched). A check
// still starting may end either way, and an unhealthy one cannot get
// worse.
func healthChange(before, after string) string {
	switch {
	case before == "" || before == after:
		return ""
	case after == "":
		return "healthcheck no longer reported (was " + before + ")"
	case before == container.Healthy && after == container.Unhealthy:
		return "health " + before + " -> " + after
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
