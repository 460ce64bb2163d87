package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/pidfd"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime/shim"
)

// restoreParallelism bounds concurrent shim adoption at start.
const restoreParallelism = 32

// restore loads every container folder (skipping hidden ones) and adopts
// live shims, in parallel with a limit. With live-restore off, as dockerd,
// containers a previous daemon left running are stopped, not kept.
func (d *Daemon) restore() error {
	sweepHidden(d.containersDir())
	sweepHidden(d.runsDir())
	ents, err := os.ReadDir(d.containersDir())
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.containersDir(), err)
	}
	results := make([]restored, len(ents))
	sem := make(chan struct{}, restoreParallelism)
	var wg sync.WaitGroup
	for i, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := d.restoreOne(e.Name())
			if err != nil {
				d.log.Error("restoring container; skipping it", "container", e.Name(), "err", err)
				return
			}
			results[i] = r
		}()
	}
	wg.Wait()
	adopted, ended := 0, 0
	d.mu.Lock()
	for _, r := range results {
		if r.c == nil {
			continue
		}
		if other, taken := d.byName[r.c.spec.Name]; taken {
			d.log.Error("two containers share a name; renaming the newer", "name", r.c.spec.Name, "ids", []string{other.spec.ID[:12], r.c.spec.ID[:12]})
			r.c.spec.Name = r.c.spec.Name + "_" + r.c.spec.ID[:6]
		}
		d.byID[r.c.spec.ID] = r.c
		d.byName[r.c.spec.Name] = r.c
	}
	d.mu.Unlock()
	var left []*Container
	for _, r := range results {
		if r.c == nil {
			continue
		}
		if r.adoptedFD >= 0 {
			adopted++
			left = append(left, r.c)
			if r.starting {
				go d.awaitStart(r.c, r.c.gen, pidfd.Wait(r.adoptedFD))
			} else {
				go d.watch(r.c, r.c.gen, pidfd.Wait(r.adoptedFD))
			}
			continue
		}
		if r.died {
			ended++
			d.event(r.c, events.ActionDie, map[string]string{"exitCode": fmt.Sprint(r.c.st.ExitCode)})
		}
		d.maybeRestart(r.c, true)
	}
	d.log.Info("containers restored", "total", len(d.byID), "adopted", adopted, "ended-while-down", ended)
	if !d.Config().LiveRestore && len(left) > 0 {
		d.log.Info("live-restore is off: stopping the containers a previous daemon left running", "count", len(left))
		var stops sync.WaitGroup
		for _, c := range left {
			stops.Add(1)
			go func() {
				defer stops.Done()
				c.op.Lock()
				defer c.op.Unlock()
				if err := d.stopLocked(context.Background(), c, nil, false); err != nil && !errors.Is(err, ErrNotModified) {
					d.log.Error("stopping a container left running (live-restore is off)", "container", c.spec.ID[:12], "err", err)
				}
			}()
		}
		stops.Wait()
	}
	return nil
}

// restored is what restoreOne found of one container.
type restored struct {
	c         *Container
	adoptedFD int  // pidfd of the adopted shim; -1 when none was adopted
	starting  bool // the adopted shim has not recorded the container's start yet
	died      bool // the container ended while the daemon was down
}

// restoreOne loads one container and decides about its shim.
func (d *Daemon) restoreOne(id string) (restored, error) {
	none := restored{adoptedFD: -1}
	dataDir := filepath.Join(d.containersDir(), id)
	var spec ContainerSpec
	if err := atomicfile.ReadJSON(filepath.Join(dataDir, "config.json"), &spec); err != nil {
		return none, err
	}
	if spec.ID != id || spec.Config == nil || spec.HostConfig == nil {
		return none, fmt.Errorf("%s/config.json: incomplete container config", dataDir)
	}
	var st ContainerState
	if err := atomicfile.ReadJSON(filepath.Join(dataDir, "state.json"), &st); err != nil {
		st = ContainerState{Status: StatusCreated}
	}
	c := newContainer(spec, st, dataDir, filepath.Join(d.runsDir(), id))
	none.c = c
	obs := observeShim(c.runDir)
	verdict := shim.Decide(obs)
	wasRunning := st.Status == StatusRunning || st.Status == StatusRestarting
	if verdict == shim.Alive || verdict == shim.Starting {
		shimPid, shimStart, _ := obs.Shim()
		fd, err := openGuarded(shimPid, shimStart)
		if err == nil {
			// Adopt: the run folder is the truth (the daemon may have
			// died between starting the shim and saving state.json). A
			// starting shim is adopted too, its process pid still
			// unknown: starting another would run the container twice.
			changed := st.Status != StatusRunning || st.ShimPid != shimPid
			c.st.Status = StatusRunning
			c.st.ShimPid, c.st.ShimStart = shimPid, shimStart
			c.st.Pid, c.st.PidStart = 0, 0
			if r := obs.Record; r != nil {
				changed = changed || st.Pid != r.Pid || !st.StartedAt.Equal(r.StartedAt)
				c.st.Pid, c.st.PidStart = r.Pid, r.PidStart
				c.st.StartedAt = r.StartedAt
			}
			c.exited = make(chan struct{})
			c.gen = 1
			if changed {
				c.saveLocked()
			}
			return restored{c: c, adoptedFD: fd, starting: obs.Record == nil}, nil
		}
		// It died between the two looks: fall through to re-observe.
		obs = observeShim(c.runDir)
		if shim.Decide(obs) == shim.Exited {
			verdict = shim.Exited
		} else {
			verdict = shim.Lost
		}
	}
	switch verdict {
	case shim.Exited:
		// Record the exit unless it is an old run already recorded.
		if wasRunning || obs.Exit.FinishedAt.After(st.FinishedAt) {
			c.recordRestoredExit(*obs.Exit)
			none.died = true
		}
	case shim.Lost, shim.None:
		if wasRunning {
			c.recordRestoredExit(shim.Exit{ExitCode: 255, Error: "the shim is gone without recording the container's exit status", FinishedAt: time.Now().UTC()})
			none.died = true
		}
	}
	return none, nil
}

// awaitStart follows a shim adopted while starting: once it records the
// container's process, the run is complete and watched as any other; if
// it exits first, its exit is recorded.
func (d *Daemon) awaitStart(c *Container, gen int, shimExited <-chan struct{}) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var rec shim.Record
		if atomicfile.ReadJSON(filepath.Join(c.runDir, shim.RecordFile), &rec) == nil {
			c.mu.Lock()
			current := gen == c.gen && c.st.Status == StatusRunning
			if current {
				c.st.Pid, c.st.PidStart, c.st.StartedAt = rec.Pid, rec.PidStart, rec.StartedAt
				c.saveLocked()
				c.notifyLocked()
			}
			c.mu.Unlock()
			if current {
				d.event(c, events.ActionStart, nil)
			}
			d.watch(c, gen, shimExited)
			return
		}
		select {
		case <-shimExited:
			// shim.json may have been written just before the exit.
			if fileExists(filepath.Join(c.runDir, shim.RecordFile)) {
				continue
			}
			d.handleExit(c, gen)
			return
		case <-tick.C:
		}
	}
}

func (c *Container) recordRestoredExit(ex shim.Exit) {
	c.setExitedLocked(ex)
	c.saveLocked()
}

// observeShim reads a run folder and the process at the recorded shim pid.
func observeShim(runDir string) shim.Observation {
	var o shim.Observation
	var sp shim.Spawn
	if err := atomicfile.ReadJSON(filepath.Join(runDir, shim.SpawnFile), &sp); err == nil {
		o.Spawn = &sp
	}
	var rec shim.Record
	if err := atomicfile.ReadJSON(filepath.Join(runDir, shim.RecordFile), &rec); err == nil {
		o.Record = &rec
	}
	if pid, _, ok := o.Shim(); ok {
		o.Proc, _ = procfs.Stat(pid)
	}
	var ex shim.Exit
	if err := atomicfile.ReadJSON(filepath.Join(runDir, shim.ExitFile), &ex); err == nil {
		o.Exit = &ex
	}
	return o
}
