package shim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// maxLogLine is where a line without a newline is cut, as dockerd does.
const maxLogLine = 16 * 1024

// logWriter appends dockerd json-file records to the container's log,
// rotating it as json-file's max-size and max-file say; with no path (log
// driver none) records are dropped.
type logWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64 // bytes in the current file
	maxSize  int64 // 0: never rotate
	maxFiles int
	buf      []byte
}

func openLog(path string, maxSize int64, maxFiles int) (*logWriter, error) {
	w := &logWriter{path: path, maxSize: maxSize, maxFiles: max(maxFiles, 1)}
	if path == "" {
		return w, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size()
	}
	w.f = f
	return w, nil
}

// rotate shifts LOG.N-2 .. LOG.1 and LOG up by one (the oldest falls off)
// and starts an empty LOG; with max-file 1 it empties LOG. Readers detect
// it by LOG naming another file than the one they hold.
func (w *logWriter) rotate() {
	w.f.Close()
	w.f = nil
	if w.maxFiles > 1 {
		for i := w.maxFiles - 1; i > 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", w.path, i-1), fmt.Sprintf("%s.%d", w.path, i))
		}
		os.Rename(w.path, w.path+".1")
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return // write opens it again
	}
	w.f, w.size = f, 0
}

func (w *logWriter) sync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Sync()
	}
}

func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// LogRecord is one line of a json-file log, as dockerd writes it.
type LogRecord struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func (w *logWriter) write(stream string, line []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.path == "" {
		return
	}
	b, err := json.Marshal(LogRecord{Log: string(line), Stream: stream, Time: time.Now().UTC()})
	if err != nil {
		return
	}
	w.buf = append(append(w.buf[:0], b...), '\n')
	if w.f != nil && w.maxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.maxSize {
		w.rotate()
	}
	if w.f == nil {
		// A failed rotation left no file: open it again, shifting nothing.
		nw, err := openLog(w.path, w.maxSize, w.maxFiles)
		if err != nil {
			return
		}
		w.f, w.size = nw.f, nw.size
	}
	// A write error (disk full) must not stop the container: drop the line.
	n, _ := w.f.Write(w.buf)
	w.size += int64(n)
}

// copyFrom reads a container stream until EOF, one record per line.
func (w *logWriter) copyFrom(r io.ReadCloser, stream string) {
	defer r.Close()
	// 8 KiB, as conmon reads: two per container, for its whole life.
	buf := make([]byte, 8*1024)
	var pending []byte
	for {
		n, err := r.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				pending = append(pending, data...)
				break
			}
			if len(pending) > 0 {
				pending = append(pending, data[:i+1]...)
				w.write(stream, pending)
				pending = pending[:0]
			} else {
				w.write(stream, data[:i+1])
			}
			data = data[i+1:]
		}
		for len(pending) >= maxLogLine {
			w.write(stream, pending[:maxLogLine])
			pending = append(pending[:0], pending[maxLogLine:]...)
		}
		if err != nil {
			if len(pending) > 0 {
				w.write(stream, pending)
			}
			return
		}
	}
}
