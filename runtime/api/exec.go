package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/creack/pty"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/liveswap/liveswap/runtime"
)

// execCreate is POST /containers/ID/exec.
func (d server) execCreate(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	var o container.ExecOptions
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
		writeError(w, bodyError("decoding the exec request", err))
		return
	}
	id, err := d.ExecCreate(c, o)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

// execStart is POST /exec/ID/start: detached, or the output streamed on
// the hijacked connection (multiplexed: no terminal).
func (d server) execStart(w http.ResponseWriter, r *http.Request) {
	e, err := d.Exec(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	var o container.ExecStartOptions
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil && err != io.EOF {
			writeError(w, bodyError("decoding the exec start request", err))
			return
		}
	}
	var conn net.Conn
	err = e.Start(o.Detach, func() (runtime.ExecStreams, error) {
		c, brw, err := hijack(w, r)
		if err != nil {
			return runtime.ExecStreams{}, err
		}
		conn = c
		// Framed (stdout and stderr apart) unless the client asked for the
		// raw stream of a terminal, as dockerd decides.
		out := &lockedWriter{w: flushWriter{brw}}
		stdout, stderr := io.Writer(out), io.Writer(out)
		if !o.Tty {
			stdout, stderr = stdcopy.NewStdWriter(out, stdcopy.Stdout), stdcopy.NewStdWriter(out, stdcopy.Stderr)
		}
		return runtime.ExecStreams{In: brw, Stdout: stdout, Stderr: stderr}, nil
	})
	switch {
	case conn != nil:
		closeStream(conn)
	case err != nil:
		writeError(w, err)
	case o.Detach:
		w.WriteHeader(http.StatusOK)
	}
}

// execInspect is GET /exec/ID/json, in dockerd's shape.
func (d server) execInspect(w http.ResponseWriter, r *http.Request) {
	e, err := d.Exec(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s := e.State()
	writeJSON(w, http.StatusOK, map[string]any{
		"ID": s.ID, "ContainerID": s.ContainerID, "Running": s.Running, "ExitCode": s.ExitCode, "Pid": s.Pid,
		"OpenStdin": s.Options.AttachStdin, "OpenStdout": s.Options.AttachStdout, "OpenStderr": s.Options.AttachStderr,
		"CanRemove": false, "DetachKeys": "",
		"ProcessConfig": map[string]any{"tty": s.Options.Tty, "entrypoint": s.Options.Cmd[0], "arguments": nonNil(s.Options.Cmd[1:]), "privileged": false, "user": s.Options.User},
	})
}

// lockedWriter serialises the frames of stdout and stderr on one stream.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// parseResize reads h and w of a resize request as dockerd does: both
// numbers, missing ones 0; a window is at most 65535 cells a side.
func parseResize(q url.Values) (pty.Winsize, error) {
	var dims [2]uint16
	for i, k := range []string{"h", "w"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return pty.Winsize{}, fmt.Errorf("resize: query parameter %s=%q is not a window size (a whole number of cells, 0 to 65535): %w", k, v, runtime.ErrInvalid)
		}
		dims[i] = uint16(n)
	}
	return pty.Winsize{Rows: dims[0], Cols: dims[1]}, nil
}

// execResize is POST /exec/ID/resize?h=ROWS&w=COLUMNS.
func (d server) execResize(w http.ResponseWriter, r *http.Request) {
	size, err := parseResize(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	e, err := d.Exec(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := e.Resize(size); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
