package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/runtime"
)

func (d server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	if r.Method == http.MethodHead {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", "0")
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "OK")
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (d server) version(w http.ResponseWriter, r *http.Request) {
	v := types.Version{
		Version: d.Version(), APIVersion: APIVersion, MinAPIVersion: MinAPIVersion,
		GoVersion: goruntime.Version(), Os: goruntime.GOOS, Arch: goruntime.GOARCH,
		KernelVersion: kernelVersion(), GitCommit: "liveswapd",
	}
	v.Platform.Name = "liveswapd"
	v.Components = []types.ComponentVersion{{
		Name: "Engine", Version: d.Version(),
		Details: map[string]string{
			"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "GitCommit": v.GitCommit,
			"GoVersion": v.GoVersion, "Os": v.Os, "Arch": v.Arch, "KernelVersion": v.KernelVersion,
			"Experimental": "false", "BuildTime": "",
		},
	}}
	writeJSON(w, http.StatusOK, v)
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func (d server) info(w http.ResponseWriter, r *http.Request) {
	cfg := d.Config()
	total, running, paused, stopped := d.Counts()
	host, _ := os.Hostname()
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	cgv := "1"
	if fileExists("/sys/fs/cgroup/cgroup.controllers") {
		cgv = "2"
	}
	// What isolates a container, and the one opt-in that does not, named
	// where an operator looks.
	secopts := []string{"name=seccomp,profile=builtin", "name=no-new-privileges"}
	var warnings []string
	if cfg.AllowHostImage {
		secopts = append(secopts, runtime.HostImageOption)
		warnings = append(warnings, `WARNING: allow-host-image: containers of image "host" run unisolated (the host's namespaces and files, every capability, no cgroup limits); inspect shows them as HostConfig.Privileged`)
	}
	drv, drvWhy := d.Images().Driver()
	runc, runcErr := d.RuncPath()
	if runcErr != nil {
		warnings = append(warnings, "WARNING: "+errMessage(runcErr)+": containers of root folder images cannot start")
	}
	info := system.Info{
		ID: d.EngineID(), Containers: total, ContainersRunning: running, ContainersPaused: paused, ContainersStopped: stopped,
		Driver: string(drv), DriverStatus: [][2]string{{"Images", drvWhy}, {"Root folder images", "used in place (no copy, no overlay); --read-only keeps them unchanged"}, {"Registry", "none: images enter by docker load and docker import"}},
		Debug: cfg.Debug, NFd: countFDs(), NGoroutines: goruntime.NumGoroutine(),
		SystemTime: time.Now().Format(time.RFC3339Nano), LoggingDriver: cfg.LogDriver,
		CgroupDriver: "cgroupfs", CgroupVersion: cgv, NEventsListener: 0,
		KernelVersion: kernelVersion(), OperatingSystem: osRelease(), OSType: "linux", Architecture: archName(),
		RegistryConfig: &registry.ServiceConfig{}, NCPU: goruntime.NumCPU(), MemTotal: int64(si.Totalram) * int64(si.Unit),
		DockerRootDir: cfg.DataRoot, Name: host, ServerVersion: d.Version(),
		Runtimes:       map[string]system.RuntimeWithStatus{"runc": {Runtime: system.Runtime{Path: runc}}},
		DefaultRuntime: "runc", Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		LiveRestoreEnabled: cfg.LiveRestore, Isolation: "", SecurityOptions: secopts, Warnings: warnings,
		Labels: []string{}, Plugins: system.PluginsInfo{}, InitBinary: "docker-init",
	}
	writeJSON(w, http.StatusOK, info)
}

func archName() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return goruntime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// --- containers ---

var eventFilters = map[string]bool{"type": true, "container": true, "event": true, "label": true}

func (d server) eventsHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		writeError(w, err)
		return
	}
	until, err := parseTime(q.Get("until"))
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := filters.FromJSON(q.Get("filters"))
	if err == nil {
		err = f.Validate(eventFilters)
	}
	if err != nil {
		writeError(w, fmt.Errorf("invalid filters: %v: %w", err, runtime.ErrInvalid))
		return
	}
	match := func(m events.Message) bool {
		if f.Contains("type") && !f.ExactMatch("type", string(m.Type)) {
			return false
		}
		// "health_status" matches "health_status: healthy", as in dockerd.
		if f.Contains("event") && !f.ExactMatch("event", string(m.Action)) && !f.ExactMatch("event", strings.SplitN(string(m.Action), ":", 2)[0]) {
			return false
		}
		if f.Contains("container") && (m.Type != events.ContainerEventType || !f.ExactMatch("container", m.Actor.ID) && !f.ExactMatch("container", m.Actor.Attributes["name"]) && !f.FuzzyMatch("container", m.Actor.ID)) {
			return false
		}
		if f.Contains("label") && !f.MatchKVList("label", m.Actor.Attributes) {
			return false
		}
		return true
	}
	past, ch := d.Subscribe(since)
	defer d.Unsubscribe(ch)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(m events.Message) bool {
		if !until.IsZero() && m.TimeNano > until.UnixNano() {
			return false
		}
		if match(m) {
			if enc.Encode(m) != nil {
				return false
			}
		}
		return true
	}
	for _, m := range past {
		if !send(m) {
			return
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	var stop <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		stop = t.C
	}
	for {
		select {
		case m := <-ch:
			if !send(m) {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		case <-stop:
			return
		case <-r.Context().Done():
			return
		}
	}
}
