package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/pkg/stdcopy"
	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime"
	"github.com/liveswap/liveswap/runtime/image"
)

// API versions: liveswapd speaks the Engine API of dockerd 20.10, which is
// what the docker.io CLI and a negotiating Go SDK client expect.
const (
	APIVersion    = "1.41"
	MinAPIVersion = "1.24"
)

// server is the API over the container store: handlers reach the daemon
// through its exported methods only.
type server struct{ *runtime.Daemon }

// Handler returns the Engine API subset over the daemon's containers as an
// http.Handler.
func Handler(daemon *runtime.Daemon) http.Handler {
	d := server{daemon}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", d.ping)
	mux.HandleFunc("HEAD /_ping", d.ping)
	mux.HandleFunc("GET /version", d.version)
	mux.HandleFunc("GET /info", d.info)
	mux.HandleFunc("GET /events", d.eventsHandler)
	mux.HandleFunc("GET /containers/json", d.list)
	mux.HandleFunc("POST /containers/create", d.create)
	mux.HandleFunc("GET /containers/{id}/json", d.withContainer(d.inspectHandler))
	mux.HandleFunc("POST /containers/{id}/start", d.withContainer(d.start))
	mux.HandleFunc("POST /containers/{id}/stop", d.withContainer(d.stop))
	mux.HandleFunc("POST /containers/{id}/restart", d.withContainer(d.restart))
	mux.HandleFunc("POST /containers/{id}/kill", d.withContainer(d.kill))
	mux.HandleFunc("POST /containers/{id}/wait", d.withContainer(d.wait))
	mux.HandleFunc("GET /containers/{id}/logs", d.withContainer(d.logs))
	mux.HandleFunc("GET /containers/{id}/top", d.withContainer(d.top))
	mux.HandleFunc("GET /containers/{id}/stats", d.withContainer(d.stats))
	mux.HandleFunc("DELETE /containers/{id}", d.withContainer(d.remove))
	mux.HandleFunc("POST /containers/{id}/attach", d.withContainer(d.attach))
	mux.HandleFunc("POST /containers/{id}/exec", d.withContainer(d.execCreate))
	mux.HandleFunc("POST /exec/{id}/start", d.execStart)
	mux.HandleFunc("GET /exec/{id}/json", d.execInspect)
	mux.HandleFunc("POST /exec/{id}/resize", d.execResize)
	d.imageRoutes(mux)
	d.networkRoutes(mux)
	d.volumeRoutes(mux)
	buildRoutes(mux)
	mux.HandleFunc("/", notImplemented)
	return bounded(d.versioned(mux), time.Duration(d.Config().APIReadTimeout)*time.Second)
}

// versioned strips a /vX.Y prefix (refusing versions we cannot serve) and
// sets the headers dockerd sets on every response.
func (d server) versioned(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Api-Version", APIVersion)
		h.Set("Docker-Experimental", "false")
		h.Set("Ostype", "linux")
		h.Set("Server", "liveswapd/"+d.Version()+" (linux)")
		p := r.URL.Path
		if strings.HasPrefix(p, "/v") {
			rest := p[2:]
			if i := strings.IndexByte(rest, '/'); i > 0 {
				v := rest[:i]
				if _, err := strconv.ParseFloat(v, 64); err == nil {
					if versions.GreaterThan(v, APIVersion) {
						writeJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", v, APIVersion)})
						return
					}
					if versions.LessThan(v, MinAPIVersion) {
						writeJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion)})
						return
					}
					r.URL.Path = rest[i:]
					r.URL.RawPath = ""
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// notImplemented answers a route liveswapd does not serve with 501 and the
// route's name: a 404 would read, to an SDK, as "that container is gone".
func notImplemented(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotImplemented, map[string]string{"message": fmt.Sprintf("%s %s is not implemented by liveswapd (it serves a subset of the Docker Engine API; see docs/liveswapd.md)", r.Method, r.URL.Path)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// errMessage is an error's text without the category suffixes the API
// strips too.
func errMessage(err error) string {
	msg := err.Error()
	for _, cat := range []error{runtime.ErrNotFound, runtime.ErrConflict, runtime.ErrInvalid, runtime.ErrUnsupported, runtime.ErrStartFailed, runtime.ErrNotImplemented, runtime.ErrTooLarge, runtime.ErrTimeout, image.ErrNotFound, image.ErrConflict, image.ErrInvalid} {
		for errors.Is(err, cat) && len(msg) > len(cat.Error())+2 && msg[len(msg)-len(cat.Error())-2:] == ": "+cat.Error() {
			msg = msg[:len(msg)-len(cat.Error())-2]
		}
	}
	return msg
}

// writeError maps error categories to status codes, with dockerd's JSON
// body shape.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, runtime.ErrNotModified):
		w.WriteHeader(http.StatusNotModified)
		return
	case errors.Is(err, runtime.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, runtime.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, runtime.ErrInvalid), errors.Is(err, runtime.ErrUnsupported):
		code = http.StatusBadRequest
	case errors.Is(err, runtime.ErrShuttingDown):
		code = http.StatusServiceUnavailable
	case errors.Is(err, runtime.ErrNotImplemented):
		code = http.StatusNotImplemented
	case errors.Is(err, runtime.ErrTooLarge):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, runtime.ErrTimeout):
		code = http.StatusRequestTimeout
	}
	writeJSON(w, code, map[string]string{"message": errMessage(err)})
}

func (d server) withContainer(h func(http.ResponseWriter, *http.Request, *runtime.Container)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := d.Get(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		h(w, r, c)
	}
}

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

func (d server) create(w http.ResponseWriter, r *http.Request) {
	var req container.CreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, bodyError("decoding the create request", err))
		return
	}
	c, warnings, err := d.Create(r.URL.Query().Get("name"), req.Config, req.HostConfig)
	if err != nil {
		writeError(w, err)
		return
	}
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID(), Warnings: warnings})
}

func (d server) start(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	if err := d.Start(r.Context(), c); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func timeoutParam(r *http.Request) (*int, error) {
	s := r.URL.Query().Get("t")
	if s == "" {
		s = r.URL.Query().Get("timeout")
	}
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("invalid value for t: %q: %w", s, runtime.ErrInvalid)
	}
	return &n, nil
}

func (d server) stop(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	t, err := timeoutParam(r)
	if err == nil {
		err = d.Stop(r.Context(), c, t)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d server) restart(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	t, err := timeoutParam(r)
	if err == nil {
		err = d.Restart(r.Context(), c, t)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d server) kill(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	sig := syscall.SIGKILL
	if s := r.URL.Query().Get("signal"); s != "" {
		var err error
		if sig, err = runtime.ParseSignal(s); err != nil {
			writeError(w, err)
			return
		}
	}
	if err := d.Kill(r.Context(), c, sig); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d server) remove(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	force, _ := strconv.ParseBool(r.URL.Query().Get("force"))
	if err := d.Remove(r.Context(), c, force); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d server) wait(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		writeError(w, fmt.Errorf("invalid condition: %q: %w", cond, runtime.ErrInvalid))
		return
	}
	// Headers first, as dockerd does, so the client knows the wait began.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	code, err := d.Wait(r.Context(), c, cond)
	resp := container.WaitResponse{StatusCode: int64(code)}
	if err != nil {
		resp.Error = &container.WaitExitError{Message: err.Error()}
	}
	json.NewEncoder(w).Encode(resp)
}

func (d server) logs(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	q := r.URL.Query()
	b := func(k string) bool { v, _ := strconv.ParseBool(q.Get(k)); return v }
	o := runtime.LogOptions{Stdout: b("stdout"), Stderr: b("stderr"), Follow: b("follow"), Timestamps: b("timestamps"), Tail: -1}
	if !o.Stdout && !o.Stderr {
		writeError(w, fmt.Errorf("Bad parameters: you must choose at least one stream: %w", runtime.ErrInvalid))
		return
	}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil {
			writeError(w, fmt.Errorf("invalid tail %q: %w", t, runtime.ErrInvalid))
			return
		}
		o.Tail = n
	}
	var err error
	if o.Since, err = parseTime(q.Get("since")); err != nil {
		writeError(w, err)
		return
	}
	if o.Until, err = parseTime(q.Get("until")); err != nil {
		writeError(w, err)
		return
	}
	if err := d.LogsReadable(c); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	// No TTY, so the stream is multiplexed (stdcopy framing).
	stdout := stdcopy.NewStdWriter(w, stdcopy.Stdout)
	stderr := stdcopy.NewStdWriter(w, stdcopy.Stderr)
	if err := d.Logs(r.Context(), c, o, stdout, stderr, flush); err != nil {
		d.Log().Debug("logs stream ended", "container", c.ID()[:12], "err", err)
	}
}

// parseTime accepts dockerd's forms: unix seconds (with fraction) or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if s == "" || s == "0" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use unix seconds or RFC 3339: %w", s, runtime.ErrInvalid)
}

func (d server) top(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	_, st := c.Snapshot()
	if st.Status != runtime.StatusRunning {
		writeError(w, fmt.Errorf("container %s is not running: %w", c.ID(), runtime.ErrConflict))
		return
	}
	resp := container.TopResponse{Titles: []string{"UID", "PID", "PPID", "STAT", "CMD"}}
	for _, pid := range runtime.Descendants(st.Pid) {
		info, err := procfs.Stat(pid)
		if err != nil || !info.Exists {
			continue
		}
		uid := ""
		if n, ok := procfs.UID(pid); ok {
			uid = strconv.Itoa(n)
		}
		line := strings.TrimSpace(strings.Join(procfs.Cmdline(pid), " "))
		if line == "" {
			line = "[" + info.Comm + "]"
		}
		resp.Processes = append(resp.Processes, []string{uid, strconv.Itoa(pid), strconv.Itoa(info.PPID), string(info.State), line})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (d server) inspectHandler(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	writeJSON(w, http.StatusOK, d.Inspect(c))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func mountsOf(hc *container.HostConfig) []container.MountPoint {
	out := []container.MountPoint{}
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 {
			continue
		}
		mode := ""
		if len(parts) > 2 {
			mode = parts[2]
		}
		out = append(out, container.MountPoint{Type: "bind", Source: parts[0], Destination: parts[1], Mode: mode, RW: !strings.Contains(mode, "ro")})
	}
	for _, m := range hc.Mounts {
		out = append(out, container.MountPoint{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly})
	}
	return out
}

// Inspect builds the GET /containers/ID/json answer.
func (d server) Inspect(c *runtime.Container) container.InspectResponse {
	spec, st := c.Snapshot()
	running := st.Status == runtime.StatusRunning || st.Status == runtime.StatusRestarting
	status := st.Status
	if status == runtime.StatusRemoving {
		status = runtime.StatusExited
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: spec.ID, Created: fmtTime(spec.Created), Path: spec.Path, Args: nonNil(spec.Args),
			State: &container.State{
				Status: container.ContainerState(status), Running: running, Restarting: st.Status == runtime.StatusRestarting,
				Pid: st.Pid, ExitCode: st.ExitCode, Error: st.Error, OOMKilled: st.OOMKilled,
				StartedAt: fmtTime(st.StartedAt), FinishedAt: fmtTime(st.FinishedAt), Health: st.Health,
			},
			Image: imageIDOf(spec), LogPath: c.LogPath(), Name: "/" + spec.Name, RestartCount: st.RestartCount,
			Driver: driverOf(spec), Platform: "linux", HostConfig: spec.HostConfig,
		},
		Mounts: mountsOf(spec.HostConfig),
		Config: spec.Config,
		NetworkSettings: &container.NetworkSettings{
			Networks: map[string]*network.EndpointSettings{"host": {NetworkID: "host"}},
		},
	}
}

// imageIDOf is what inspect and ps show as a container's image ID: a
// stored image's, else the name (host, a root folder path).
func imageIDOf(spec runtime.ContainerSpec) string {
	if spec.ImageID != "" {
		return spec.ImageID
	}
	return spec.Image
}

func driverOf(spec runtime.ContainerSpec) string {
	if spec.ImageID != "" {
		if fileExists(filepath.Join(filepath.Dir(spec.Root), "upper")) {
			return "overlay"
		}
		return "copy"
	}
	return "none"
}

// ancestorTag matches an ancestor filter naming a tag of the image.
func (d server) ancestorTag(f filters.Args, id string) bool {
	for _, v := range f.Get("ancestor") {
		if rid, err := d.Images().Resolve(v); err == nil && rid == id {
			return true
		}
	}
	return false
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func statusText(st runtime.ContainerState) string {
	switch st.Status {
	case runtime.StatusRunning:
		up := "Up " + units.HumanDuration(time.Since(st.StartedAt))
		if h := st.Health; h != nil {
			if h.Status == container.Starting {
				return up + " (health: starting)"
			}
			return up + " (" + h.Status + ")"
		}
		return up
	case runtime.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case runtime.StatusExited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case runtime.StatusRemoving:
		return "Removal In Progress"
	}
	return "Created"
}

// Summary builds one GET /containers/json entry.
func (d server) Summary(c *runtime.Container) container.Summary {
	spec, st := c.Snapshot()
	cmd := strings.Join(append([]string{spec.Path}, spec.Args...), " ")
	s := container.Summary{
		ID: spec.ID, Names: []string{"/" + spec.Name}, Image: spec.Image, ImageID: imageIDOf(spec),
		Command: cmd, Created: spec.Created.Unix(), Ports: []container.Port{},
		Labels: spec.Config.Labels, State: container.ContainerState(st.Status), Status: statusText(st),
		NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"host": {NetworkID: "host"}}},
		Mounts:          mountsOf(spec.HostConfig),
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.HostConfig.NetworkMode = string(spec.HostConfig.NetworkMode)
	return s
}

var psFilters = map[string]bool{"name": true, "id": true, "status": true, "label": true, "exited": true, "ancestor": true}

func (d server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	all, _ := strconv.ParseBool(q.Get("all"))
	f, err := filters.FromJSON(q.Get("filters"))
	if err != nil {
		writeError(w, fmt.Errorf("invalid filters: %v: %w", err, runtime.ErrInvalid))
		return
	}
	if err := f.Validate(psFilters); err != nil {
		writeError(w, fmt.Errorf("%v: %w", err, runtime.ErrInvalid))
		return
	}
	limit := -1
	if l := q.Get("limit"); l != "" {
		limit, _ = strconv.Atoi(l)
	}
	out := []container.Summary{}
	for _, c := range d.List() {
		spec, st := c.Snapshot()
		if !all && !f.Contains("status") && st.Status != runtime.StatusRunning && st.Status != runtime.StatusRestarting {
			continue
		}
		if f.Contains("name") && !f.Match("name", spec.Name) && !f.Match("name", "/"+spec.Name) {
			continue
		}
		if f.Contains("id") && !f.FuzzyMatch("id", spec.ID) {
			continue
		}
		if f.Contains("status") && !f.ExactMatch("status", st.Status) {
			continue
		}
		if f.Contains("label") && !f.MatchKVList("label", spec.Config.Labels) {
			continue
		}
		if f.Contains("ancestor") && !f.ExactMatch("ancestor", spec.Image) && (spec.ImageID == "" || !f.ExactMatch("ancestor", spec.ImageID) && !d.ancestorTag(f, spec.ImageID)) {
			continue
		}
		if f.Contains("exited") && (st.Status != runtime.StatusExited || !f.ExactMatch("exited", strconv.Itoa(st.ExitCode))) {
			continue
		}
		out = append(out, d.Summary(c))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

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
