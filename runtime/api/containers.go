package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime"
)

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
