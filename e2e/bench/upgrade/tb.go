package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
)

// benchTB is the testbed's T for the benchmark: a fatal error unwinds to
// the caller of runStep, and cleanups run LIFO when the benchmark ends, as
// they would at the end of a test.
type benchTB struct {
	root    string
	verbose bool

	mu       sync.Mutex
	cleanups []func()
	tmp      int
}

var _ testbed.T = (*benchTB)(nil)

// abort is the panic value of Fatalf; runStep turns it back into an error.
type abort struct{ msg string }

func newBenchTB(verbose bool) (*benchTB, error) {
	root, err := os.MkdirTemp("", "lsbench-up-")
	if err != nil {
		return nil, err
	}
	t := &benchTB{root: root, verbose: verbose}
	t.Cleanup(func() { os.RemoveAll(root) })
	return t, nil
}

func (t *benchTB) Helper() {}

func (t *benchTB) Logf(format string, a ...any) {
	if t.verbose {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
}

// progress always prints: the benchmark takes minutes and says where it is.
func (t *benchTB) progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func (t *benchTB) Fatalf(format string, a ...any) {
	panic(abort{msg: fmt.Sprintf(format, a...)})
}

func (t *benchTB) Cleanup(f func()) { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }

func (t *benchTB) TempDir() string {
	t.mu.Lock()
	t.tmp++
	n := t.tmp
	t.mu.Unlock()
	dir := filepath.Join(t.root, fmt.Sprintf("%03d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	return dir
}

// runStep calls f and turns a Fatalf inside it into an error.
func (t *benchTB) runStep(f func()) (err error) {
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

// cleanup runs every registered cleanup, last registered first; a Fatalf in
// one does not stop the others.
func (t *benchTB) cleanup() {
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		if err := t.runStep(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: cleanup: %v\n", err)
		}
	}
}
