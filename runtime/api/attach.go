package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/pkg/stdcopy"
	"github.com/liveswap/liveswap/runtime"
)

// hijack takes the connection of an attach or exec start over, as dockerd
// does: 101 UPGRADED when the client asked for Upgrade: tcp (the docker
// CLI, the SDKs), else 200; the raw stream follows.
func hijack(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("this connection cannot be hijacked: %w", runtime.ErrInvalid)
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The server's read deadlines must not cut a stream that lasts as
	// long as the container.
	conn.SetDeadline(time.Time{})
	status := "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
	if strings.EqualFold(r.Header.Get("Upgrade"), "tcp") {
		status = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
	}
	if _, err := brw.WriteString(status); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := brw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, brw, nil
}

// closeStream ends a hijacked stream: the client reads EOF.
func closeStream(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.Close()
}

// flushWriter flushes the buffered connection after each write, so the
// client sees output as the container writes it.
type flushWriter struct{ brw *bufio.ReadWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.brw.Write(p)
	if err == nil {
		err = f.brw.Flush()
	}
	return n, err
}

// attach is POST /containers/ID/attach: the container's output from now
// on (stream=1; logs=1 adds what it wrote before), multiplexed as the
// docker CLI reads it, until the container ends. The output comes from the
// container's log, which the shim writes: attaching needs no path from the
// container to the daemon, so a restarted daemon serves it the same way.
// Standard input (-i) and terminals (-t) are refused at create.
func (d server) attach(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	q := r.URL.Query()
	b := func(k string) bool { v, _ := strconv.ParseBool(q.Get(k)); return v }
	if b("stdin") {
		spec, _ := c.Snapshot()
		if !spec.Config.OpenStdin {
			// The docker CLI asks for stdin only with -i, which create refused.
			writeError(w, fmt.Errorf("attaching standard input is not supported by liveswapd: containers have no stdin (-i is refused); attach without --sig-proxy/stdin: %w", runtime.ErrUnsupported))
			return
		}
	}
	if q.Get("detachKeys") != "" {
		writeError(w, fmt.Errorf("--detach-keys is not supported by liveswapd: it reads no input from an attached client: %w", runtime.ErrUnsupported))
		return
	}
	if err := d.LogsReadable(c); err != nil {
		writeError(w, fmt.Errorf("attach reads the container's log, and log driver none keeps none: %w", err))
		return
	}
	o := runtime.LogOptions{Stdout: b("stdout"), Stderr: b("stderr"), Follow: b("stream"), Tail: -1}
	if !o.Stdout && !o.Stderr {
		o.Stdout, o.Stderr = true, true
	}
	if !b("logs") {
		o.Since = time.Now()
	}
	gen := c.Gen()
	conn, brw, err := hijack(w, r)
	if err != nil {
		d.Log().Debug("attach: hijack failed", "container", c.ID()[:12], "err", err)
		return
	}
	defer closeStream(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchHangup(brw, cancel)
	if o.Follow && !d.AwaitRun(ctx, c, gen) {
		return
	}
	out := flushWriter{brw}
	err = d.Logs(ctx, c, o, stdcopy.NewStdWriter(out, stdcopy.Stdout), stdcopy.NewStdWriter(out, stdcopy.Stderr), func() {})
	if err != nil {
		d.Log().Debug("attach stream ended", "container", c.ID()[:12], "err", err)
	}
}

// watchHangup cancels when the client's side of a hijacked stream fails.
// End of input is not a hang-up: the docker CLI closes its writing side
// when it has no stdin to send, and still reads.
func watchHangup(brw *bufio.ReadWriter, cancel func()) {
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := brw.Read(buf); err != nil {
				if err != io.EOF {
					cancel()
				}
				return
			}
		}
	}()
}
