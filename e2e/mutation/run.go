package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Outcomes of a mutation.
const (
	Caught   = "caught"   // a listed test failed, and passes without the mutation
	Uncaught = "uncaught" // every listed test passed: nothing defends the verdict
	Invalid  = "invalid"  // the mutated package does not build or vet: fix the table
	Stale    = "stale"    // the original text is gone, or a -run matches no test
	Errored  = "error"    // the check itself could not run (copy, go, timeout)
	Vetted   = "vetted"   // -vet-only: it builds and vets; no test was run
)

// Step outcomes.
const (
	StepFailed  = "failed"          // some test failed
	StepPassed  = "passed"          // every test passed
	StepNoTests = "no-tests"        // -run matched no test
	StepBroken  = "fails-unmutated" // failed, but fails without the mutation too
	StepError   = "error"           // go test did not run (or was killed)
)

// Result is one mutation's outcome.
type Result struct {
	ID       string       `json:"id"`
	Verdict  string       `json:"verdict"`
	File     string       `json:"file"`
	Status   string       `json:"status"`
	CaughtBy []string     `json:"caught_by,omitempty"` // pkg: test
	Steps    []StepResult `json:"steps"`
	Seconds  float64      `json:"seconds"`
	Detail   string       `json:"detail,omitempty"` // why invalid, stale or error
	Kept     string       `json:"kept,omitempty"`   // the mutated copy, with -keep
	Why      string       `json:"why"`
}

// StepResult is one `go test` run of a mutation.
type StepResult struct {
	Pkg      string   `json:"pkg"`
	Run      string   `json:"run"`
	Status   string   `json:"status"`
	Ran      int      `json:"tests_run"`
	Failed   []string `json:"failed,omitempty"`
	Excerpt  []string `json:"excerpt,omitempty"`
	Seconds  float64  `json:"seconds"`           // wall time: lock wait, build and tests
	Testing  float64  `json:"test_seconds"`      // the test binary alone
	LockWait float64  `json:"lock_wait_seconds"` // waiting for other end-to-end runs
}

// runner runs mutations one at a time in copies of the module.
type runner struct {
	root    string        // the module being checked
	base    string        // this invocation's temp folder
	lock    string        // the e2e lock file
	timeout time.Duration // per go test run
	keep    bool
	vetOnly bool      // stop after go vet: the mutation builds
	log     io.Writer // progress
	// baseline caches each step's outcome on the unmutated module, run
	// only when the step fails with a mutation.
	baseline map[Step]StepResult
	pristine string
	waited   time.Duration // for the e2e lock, in total
}

// work is the folder each mutation is copied to: always the same path, so
// the build cache serves every package the mutation does not touch.
func (x *runner) work() string { return filepath.Join(x.base, "src") }

func (x *runner) logf(format string, a ...any) {
	if x.log != nil {
		fmt.Fprintf(x.log, format+"\n", a...)
	}
}

// mutate runs one mutation to its outcome.
func (x *runner) mutate(ctx context.Context, m Mutation) (res Result) {
	begin := time.Now()
	res = Result{ID: m.ID, Verdict: m.Verdict, File: m.File, Why: m.Why, Steps: []StepResult{}}
	defer func() { res.Seconds = time.Since(begin).Seconds() }()
	src, err := os.ReadFile(filepath.Join(x.root, m.File))
	if err != nil {
		res.Status, res.Detail = Stale, err.Error()
		return res
	}
	mutated, err := apply(src, m.File, m.Original, m.Replacement)
	if err != nil {
		res.Status, res.Detail = Stale, err.Error()
		return res
	}
	dir := x.work()
	if err := os.RemoveAll(dir); err != nil {
		res.Status, res.Detail = Errored, err.Error()
		return res
	}
	if err := copyModule(x.root, dir); err != nil {
		res.Status, res.Detail = Errored, err.Error()
		return res
	}
	if x.keep {
		defer func() {
			kept := filepath.Join(x.base, m.ID)
			if os.Rename(dir, kept) == nil {
				res.Kept = kept
			}
		}()
	}
	if err := os.WriteFile(filepath.Join(dir, m.File), mutated, 0o644); err != nil {
		res.Status, res.Detail = Errored, err.Error()
		return res
	}
	if out, _, err := x.goCmd(ctx, dir, false, "vet", m.Pkg()); err != nil {
		res.Status, res.Detail = Invalid, "go vet "+m.Pkg()+": "+lastLines(out, 6)
		if ctx.Err() != nil {
			res.Status, res.Detail = Errored, ctx.Err().Error()
		}
		return res
	}
	if x.vetOnly {
		res.Status, res.Detail = Vetted, "go vet "+m.Pkg()+" passes; no test run (-vet-only)"
		return res
	}
	res.Status = Uncaught
	for _, s := range m.Tests {
		sr := x.test(ctx, dir, s)
		if sr.Status == StepFailed {
			if base := x.base0(ctx, s); base.Status != StepPassed {
				sr.Status = StepBroken
				sr.Excerpt = append([]string{"without the mutation: " + base.Status + " " + strings.Join(base.Failed, ", ")}, sr.Excerpt...)
			}
		}
		res.Steps = append(res.Steps, sr)
		switch sr.Status {
		case StepFailed:
			res.Status = Caught
			for _, f := range sr.Failed {
				res.CaughtBy = append(res.CaughtBy, s.Pkg+": "+f)
			}
			if len(sr.Failed) == 0 {
				res.CaughtBy = append(res.CaughtBy, s.Pkg+": (the package failed outside any test)")
			}
			return res
		case StepNoTests:
			res.Status, res.Detail = Stale, fmt.Sprintf("%s: -run matches no test (renamed?)", s)
			return res
		case StepError:
			res.Status, res.Detail = Errored, fmt.Sprintf("%s: %s", s, strings.Join(sr.Excerpt, " | "))
			return res
		}
	}
	return res
}

// base0 is step s on the unmutated module, run once per invocation.
func (x *runner) base0(ctx context.Context, s Step) StepResult {
	if r, ok := x.baseline[s]; ok {
		return r
	}
	if x.pristine == "" {
		dir := filepath.Join(x.base, "unmutated")
		if err := copyModule(x.root, dir); err != nil {
			return StepResult{Pkg: s.Pkg, Run: s.Run, Status: StepError, Excerpt: []string{err.Error()}}
		}
		x.pristine = dir
	}
	x.logf("  baseline: %s", s)
	r := x.test(ctx, x.pristine, s)
	if ctx.Err() == nil {
		x.baseline[s] = r
	}
	return r
}

// test runs one step in dir.
func (x *runner) test(ctx context.Context, dir string, s Step) StepResult {
	begin := time.Now()
	args := []string{"test", "-json", "-count=1", "-p", "1", "-timeout", x.timeout.String()}
	if s.Run != "" {
		args = append(args, "-run", s.Run)
	}
	args = append(args, s.Pkg)
	// The go command's own deadline comes first; this one only ends a hang.
	ctx, cancel := context.WithTimeout(ctx, x.timeout+2*time.Minute)
	defer cancel()
	out, waited, err := x.goCmd(ctx, dir, s.Locked(), args...)
	x.waited += waited
	tr := parseTestJSON(bytes.NewReader(out))
	r := StepResult{Pkg: s.Pkg, Run: s.Run, Ran: tr.Ran, Failed: tr.Failed, Excerpt: tr.Excerpt,
		Seconds: time.Since(begin).Seconds(), Testing: tr.Elapsed, LockWait: waited.Seconds()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Status, r.Excerpt = StepError, []string{"killed: " + ctx.Err().Error()}
	case err == nil && tr.Ran == 0:
		r.Status = StepNoTests
	case err == nil:
		r.Status = StepPassed
	case errors.As(err, &ee) && tr.Events > 0:
		r.Status = StepFailed
	default:
		r.Status, r.Excerpt = StepError, []string{err.Error(), lastLines(out, 4)}
	}
	return r
}

// goCmd runs the go command in dir, in its own process group so that a
// timeout ends everything it started. A locked run holds the e2e lock and
// has LIVESWAP_E2E=require; waited is how long the lock took.
func (x *runner) goCmd(ctx context.Context, dir string, locked bool, args ...string) (out []byte, waited time.Duration, err error) {
	env := os.Environ()
	if locked {
		release, w, err := lockFile(ctx, x.lock)
		if err != nil {
			return nil, w, err
		}
		defer release()
		waited = w
		env = append(env, "LIVESWAP_E2E=require")
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// SIGTERM first: the testbed stops what it started when it can.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	err = cmd.Run()
	return b.Bytes(), waited, err
}

// lockFile takes an exclusive flock(2) on path, the lock `flock(1)` takes
// for the other end-to-end runs on this machine, and returns how long that
// took. The descriptor is close-on-exec: the tests do not inherit it.
func lockFile(ctx context.Context, path string) (release func(), waited time.Duration, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, 0, fmt.Errorf("e2e lock: %w", err)
	}
	begin := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, time.Since(begin), nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, time.Since(begin), fmt.Errorf("e2e lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, time.Since(begin), ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// copyModule copies the module's files (tracked and untracked, as git
// lists them without its ignores: no bin/, no .git) to dst, so the
// working tree is checked as it is, uncommitted edits included.
func copyModule(root, dst string) error {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("listing the module's files (git ls-files in %s): %w", root, err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		if err := copyOne(filepath.Join(root, rel), filepath.Join(dst, rel)); err != nil {
			return err
		}
	}
	return nil
}

func copyOne(src, dst string) error {
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // deleted in the working tree, not yet in git
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, fi.Mode().Perm())
}
