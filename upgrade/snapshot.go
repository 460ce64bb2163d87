// Package upgrade swaps a container daemon's binary through systemd and
// proves that no workload noticed: preflight, lock, snapshot, stage, swap,
// restart, ready, canary, verify, then commit or roll back. Every phase
// transition is journaled so an interrupted run can be resumed or undone.
package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/liveswap/liveswap/plan"
	"github.com/liveswap/liveswap/upgrade/engine"
	"github.com/liveswap/liveswap/upgrade/probe"
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
}

// TakeSnapshot records every running container at c, plus workload
// identity for the workloads given (redis run_id through the probe address).
func TakeSnapshot(ctx context.Context, c *engine.Client, workloads []plan.Workload) (*Snapshot, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.Running(ctx)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Taken: time.Now().UTC(), Endpoint: c.Endpoint, Version: st.Version}
	for _, sum := range list {
		in, err := c.Inspect(ctx, sum.ID)
		if err != nil {
			return nil, err
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
		s.Containers = append(s.Containers, ct)
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
	}
	return s, nil
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
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

// ReadSnapshot loads a snapshot written by WriteFile.
func ReadSnapshot(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot: %w", err)
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: not a liveswap snapshot: %w", path, err)
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
	Interrupted     bool   `json:"interrupted"`
	Reason          string `json:"reason,omitempty"`
}

// Compare names every container of before that is not running the same
// process in after, and why. Containers started after before are ignored.
func Compare(before, after *Snapshot) []Change {
	var out []Change
	for _, b := range before.Containers {
		ch := Change{Name: b.Name, ID: b.ID, PidBefore: b.Pid, StartedAtBefore: b.StartedAt}
		a := after.find(b.ID)
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
		}
		if len(reasons) > 0 {
			ch.Interrupted = true
			ch.Reason = strings.Join(reasons, "; ")
		}
		out = append(out, ch)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
