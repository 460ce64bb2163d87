package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"
)

// LogOptions selects what Logs returns (the /containers/ID/logs query).
type LogOptions struct {
	Stdout, Stderr bool
	Since, Until   time.Time // zero = unbounded
	Tail           int       // < 0 = all
	Timestamps     bool
	Follow         bool
}

// Logs copies the container's log records to stdout/stderr writers;
// flush is called after each batch when following.
func (d *Daemon) Logs(ctx context.Context, c *Container, o LogOptions, stdout, stderr io.Writer, flush func()) error {
	f, err := os.Open(c.logPath())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if !o.Follow {
				return nil
			}
			f = nil
		} else {
			return err
		}
	}
	// selected decodes a record and picks its writer; nil = filtered out.
	selected := func(line []byte) (logRecord, io.Writer) {
		var r logRecord
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
	var br *bufio.Reader
	if f != nil {
		defer f.Close()
		br = bufio.NewReaderSize(f, 64*1024)
		if o.Tail >= 0 {
			// Keep the last Tail complete records of the selected streams.
			var ring [][]byte
			for {
				line, err := br.ReadBytes('\n')
				if err != nil {
					// A partial last line stays for the follow loop.
					if len(line) > 0 {
						f.Seek(-int64(len(line)), io.SeekCurrent)
						br.Reset(f)
					}
					break
				}
				if o.Tail == 0 {
					continue
				}
				if _, w := selected(line); w == nil {
					continue
				}
				ring = append(ring, line)
				if len(ring) > o.Tail {
					ring = ring[1:]
				}
			}
			for _, l := range ring {
				if err := emit(l); err != nil {
					return err
				}
			}
		}
	}
	var partial []byte
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if br == nil && o.Follow {
			if f2, err := os.Open(c.logPath()); err == nil {
				f = f2
				defer f.Close()
				br = bufio.NewReaderSize(f, 64*1024)
			}
		}
		for br != nil {
			line, err := br.ReadBytes('\n')
			if err != nil {
				partial = append(partial, line...)
				break
			}
			if len(partial) > 0 {
				line = append(partial, line...)
				partial = nil
			}
			if err := emit(line); err != nil {
				return err
			}
		}
		if !o.Follow {
			return nil
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
			if br != nil {
				for {
					line, err := br.ReadBytes('\n')
					if err != nil {
						break
					}
					if len(partial) > 0 {
						line = append(partial, line...)
						partial = nil
					}
					if err := emit(line); err != nil {
						return err
					}
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
