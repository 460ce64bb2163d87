package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchTB lets the benchmark use the testbed, which takes a testing.TB: a
// fatal error unwinds to the caller of runStep, and cleanups run LIFO when
// the benchmark ends, as they would at the end of a test.
type benchTB struct {
	testing.TB // nil: only the methods below are used by the testbed

	name    string
	root    string
	verbose bool
	ctx     context.Context

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	tmp      int
}

// abort is the panic value of Fatal; runStep turns it back into an error.
type abort struct{ msg string }

func newBenchTB(ctx context.Context, name string, verbose bool) (*benchTB, error) {
	root, err := os.MkdirTemp("", "lsbench-up-")
	if err != nil {
		return nil, err
	}
	t := &benchTB{name: name, root: root, verbose: verbose, ctx: ctx}
	t.Cleanup(func() { os.RemoveAll(root) })
	return t, nil
}

func (t *benchTB) Helper()                  {}
func (t *benchTB) Name() string             { return t.name }
func (t *benchTB) Context() context.Context { return t.ctx }

func (t *benchTB) Log(a ...any) { t.Logf("%s", strings.TrimSuffix(fmt.Sprintln(a...), "\n")) }

func (t *benchTB) Logf(format string, a ...any) {
	if t.verbose {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
}

// progress always prints: the benchmark takes minutes and says where it is.
func (t *benchTB) progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func (t *benchTB) Error(a ...any) { t.Errorf("%s", fmt.Sprint(a...)) }

func (t *benchTB) Errorf(format string, a ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	fmt.Fprintf(os.Stderr, "bench: %s\n", fmt.Sprintf(format, a...))
}

func (t *benchTB) Fail() { t.mu.Lock(); t.failed = true; t.mu.Unlock() }

func (t *benchTB) Failed() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }

func (t *benchTB) FailNow() { t.Fatalf("failed") }

func (t *benchTB) Fatal(a ...any) { t.Fatalf("%s", fmt.Sprint(a...)) }

func (t *benchTB) Fatalf(format string, a ...any) {
	t.Fail()
	panic(abort{msg: fmt.Sprintf(format, a...)})
}

// A prerequisite the testbed wants to skip for is missing: for a benchmark
// that is a failure.
func (t *benchTB) Skip(a ...any)                 { t.Fatal(a...) }
func (t *benchTB) Skipf(format string, a ...any) { t.Fatalf(format, a...) }
func (t *benchTB) SkipNow()                      { t.Fatalf("skipped") }
func (t *benchTB) Skipped() bool                 { return false }
func (t *benchTB) Setenv(key, value string)      { os.Setenv(key, value) }
func (t *benchTB) Attr(key, value string)        {}
func (t *benchTB) Cleanup(f func())              { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }
func (t *benchTB) ArtifactDir() string           { return t.TempDir() }
func (t *benchTB) Chdir(dir string)              { os.Chdir(dir) }
func (t *benchTB) Output() io.Writer             { return os.Stderr }

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

// runStep calls f and turns a Fatal inside it into an error.
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

// cleanup runs every registered cleanup, last registered first; a Fatal in
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
