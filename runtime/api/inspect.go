package api

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	units "github.com/docker/go-units"

	"github.com/liveswap/liveswap/runtime"
)

func (d server) inspectHandler(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	writeJSON(w, http.StatusOK, d.inspect(c))
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

// inspect builds the GET /containers/ID/json answer.
func (d server) inspect(c *runtime.Container) container.InspectResponse {
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

// summary builds one GET /containers/json entry.
func (d server) summary(c *runtime.Container) container.Summary {
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
		out = append(out, d.summary(c))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}
