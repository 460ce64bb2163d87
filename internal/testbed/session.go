package testbed

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Session is the testbed's T for programs (the demo, the benchmarks): a
// Fatalf unwinds to the caller of Run, and cleanups run last registered
// first when the session closes, as they would at the end of a test.
type Session struct {
	root    string
	log     io.Writer
	verbose bool

	mu       sync.Mutex
	cleanups []func()
	tmp      int
}

var _ Skipper = (*Session)(nil)

// abort is the panic value of Fatalf; Run turns it back into an error.
type abort struct{ msg string }

// NewSession makes a session whose temporary folders live under a new
// folder named after prefix; Logf writes to log when verbose.
func NewSession(prefix string, log io.Writer, verbose bool) (*Session, error) {
	root, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	s := &Session{root: root, log: log, verbose: verbose}
	s.Cleanup(func() { os.RemoveAll(root) })
	return s, nil
}

// Helper is a no-op: there are no test frames to skip.
func (s *Session) Helper() {}

// Logf writes a timestamped line when the session is verbose.
func (s *Session) Logf(format string, a ...any) {
	if s.verbose {
		fmt.Fprintf(s.log, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
}

// Fatalf ends the current Run with the message as its error.
func (s *Session) Fatalf(format string, a ...any) { panic(abort{msg: fmt.Sprintf(format, a...)}) }

// Skipf ends the current Run: a program cannot skip what it was asked to do.
func (s *Session) Skipf(format string, a ...any) { s.Fatalf(format, a...) }

// Cleanup registers f to run when the session closes.
func (s *Session) Cleanup(f func()) { s.mu.Lock(); s.cleanups = append(s.cleanups, f); s.mu.Unlock() }

// TempDir returns a new folder removed when the session closes.
func (s *Session) TempDir() string {
	s.mu.Lock()
	s.tmp++
	n := s.tmp
	s.mu.Unlock()
	dir := filepath.Join(s.root, fmt.Sprintf("%03d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.Fatalf("temp dir: %v", err)
	}
	return dir
}

// Run calls f and turns a Fatalf inside it into an error.
func (s *Session) Run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(abort)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", a.msg)
		}
	}()
	f()
	return nil
}

// Close runs every registered cleanup, last registered first; a Fatalf in
// one does not stop the others, and is reported on the log.
func (s *Session) Close() {
	for {
		s.mu.Lock()
		n := len(s.cleanups)
		if n == 0 {
			s.mu.Unlock()
			return
		}
		f := s.cleanups[n-1]
		s.cleanups = s.cleanups[:n-1]
		s.mu.Unlock()
		if err := s.Run(f); err != nil {
			fmt.Fprintf(s.log, "cleanup: %v\n", err)
		}
	}
}
