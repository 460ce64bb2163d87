package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/shim"
)

// LogOptions selects what Logs returns (the /containers/ID/logs query).
type LogOptions struct {
	Stdout, Stderr bool
	Since, Until   time.Time // zero = unbounded
	Tail           int       // < 0 = all
	Timestamps     bool
	Follow         bool
}

// LogsReadable refuses logs of a container whose log driver keeps none,
// as dockerd does (501).
func (d *Daemon) LogsReadable(c *Container) error {
	spec, _ := c.Snapshot()
	if spec.HostConfig.LogConfig.Type == config.LogDriverNone {
		return fmt.Errorf("configured logging driver does not support reading: %w", ErrNotImplemented)
	}
	return nil
}

// rotatedLogs lists the rotated files of a log (LOG.1, LOG.2, ...),
// oldest first.
func rotatedLogs(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", path, i)
		if !fileExists(p) {
			return out
		}
		out = append([]string{p}, out...)
	}
}

// Logs copies the container's log records, the rotated files first, to
// stdout/stderr writers; flush is called after each batch when following.
func (d *Daemon) Logs(ctx context.Context, c *Container, o LogOptions, stdout, stderr io.Writer, flush func()) error {
	if err := d.LogsReadable(c); err != nil {
		return err
	}
	// selected decodes a record and picks its writer; nil = filtered out.
	selected := func(line []byte) (shim.LogRecord, io.Writer) {
		var r shim.LogRecord
		if json.Unmarshal(line, &r) != nil {
			return r, nil
		}
		if !o.Since.IsZero() && r.Time.Before(o.Since) || !o.Until.IsZero() && r.Time.After(o.Until) {
			return r, nil
		}
		switch {
		case r.Stream == "stdout" && o.Stdout:
			return r, stdout
		case r.Stream == "stderr" && o.Stderr:
			return r, stderr
		}
		return r, nil
	}
	emit := func(line []byte) error {
		r, w := selected(line)
		if w == nil {
			return nil
		}
		msg := r.Log
		if o.Timestamps {
			msg = r.Time.Format(time.RFC3339Nano) + " " + msg
		}
		_, err := io.WriteString(w, msg)
		return err
	}
	// The past: every complete record, through a ring when only the last
	// Tail of them are asked for.
	var ring [][]byte
	past := func(line []byte) error {
		switch {
		case o.Tail < 0:
			return emit(line)
		case o.Tail == 0:
			return nil
		}
		if _, w := selected(line); w == nil {
			return nil
		}
		ring = append(ring, line)
		if len(ring) > o.Tail {
			ring = ring[1:]
		}
		return nil
	}
	path := c.LogPath()
	for _, p := range rotatedLogs(path) {
		f, err := os.Open(p)
		if err != nil {
			continue // rotated away meanwhile
		}
		br := bufio.NewReaderSize(f, 64*1024)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil {
				break
			}
			if err := past(line); err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
	}
	var cur *os.File
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	var br *bufio.Reader
	var partial []byte
	// drain reads the current file to its end; a partial last line waits
	// for the rest.
	drain := func(each func([]byte) error) error {
		for br != nil {
			line, err := br.ReadBytes('\n')
			if err != nil {
				partial = append(partial, line...)
				return nil
			}
			if len(partial) > 0 {
				line = append(partial, line...)
				partial = nil
			}
			if err := each(line); err != nil {
				return err
			}
		}
		return nil
	}
	open := func() {
		if f, err := os.Open(path); err == nil {
			cur, br, partial = f, bufio.NewReaderSize(f, 64*1024), nil
		}
	}
	open()
	if err := drain(past); err != nil {
		return err
	}
	for _, l := range ring {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !o.Follow {
		return nil
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if cur == nil {
			open()
		}
		if err := drain(emit); err != nil {
			return err
		}
		// Rotated: what the old file holds is complete once read to its
		// end; go on with the new file from its start.
		if cur != nil && rotatedAway(cur, path) {
			if err := drain(emit); err != nil {
				return err
			}
			cur.Close()
			cur, br = nil, nil
			continue
		}
		if flush != nil {
			flush()
		}
		c.mu.Lock()
		running := c.st.Status == StatusRunning || c.st.Status == StatusRestarting
		removed := c.removed
		c.mu.Unlock()
		if !running || removed {
			// One last read after the end, then stop as dockerd does.
			return drain(emit)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// rotatedAway reports whether path no longer names the open file f.
func rotatedAway(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && (err2 != nil || !os.SameFile(a, b))
}

// AwaitRun waits until the container runs, or a run that began after
// attach already ended (a command that exits at once); false if the
// client left or the container was removed first.
func (d *Daemon) AwaitRun(ctx context.Context, c *Container, gen int) bool {
	for {
		c.mu.Lock()
		st, g, removed, changed := c.st.Status, c.gen, c.removed, c.changed
		c.mu.Unlock()
		switch {
		case st == StatusRunning || st == StatusRestarting || g != gen:
			return true
		case removed:
			return false
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}
