// Command mutation is liveswap's mutation check: it switches each verdict
// liveswap gives off in turn — the probe verdict, each rule of Compare,
// each pre-flight check that can fail or warn, each exit-code mapping, the
// classification of a failed phase, enable-live-restore's verdicts — and
// shows that at least one test fails for each.
//
//	go run ./e2e/mutation                   # the whole table (as root: e2e steps run)
//	go run ./e2e/mutation -only compare,exit.refused -keep
//	go run ./e2e/mutation -list             # the table, and whether each anchor still matches
//
// The mutations are data (table.go): a file, the exact original text (it
// must occur exactly once, else the entry is stale), its replacement, the
// tests to run in order (unit tests first, then the narrowest end-to-end
// test) and why the verdict matters. For each entry the module is copied
// to a temp folder (the files git lists, bin/ and .git left out), the
// mutation applied, `go vet` run on its package (a mutation that does not
// build is invalid, never caught), then each listed `go test -count=1 -p 1
// -run` in turn, until one fails; end-to-end packages run holding
// /tmp/liveswap-e2e.lock (the flock(1) lock every e2e run on the machine
// takes) with LIVESWAP_E2E=require. A failing test counts only if it
// passes on the unmutated module (checked once per test).
//
// Exit status: 0 when every mutation was caught; 1 when one was uncaught,
// stale, invalid or could not run; 2 for usage errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	only     string
	list     bool
	keep     bool
	timeout  time.Duration
	jsonFile string
	markdown string
	lock     string
	vetOnly  bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("mutation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.only, "only", "", "run only these mutations: IDs or groups, comma-separated (compare,exit.refused)")
	fs.BoolVar(&o.list, "list", false, "print the table and whether each original text still matches; run nothing")
	fs.BoolVar(&o.keep, "keep", false, "keep each mutated copy of the module (its path is in the JSON)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "go test -timeout of each test run")
	fs.StringVar(&o.jsonFile, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.markdown, "markdown", "", "also write the results as a Markdown table to this file (docs/mutation.md shows one)")
	fs.BoolVar(&o.vetOnly, "vet-only", false, "apply and vet each mutation, run no test (checks the table after an edit)")
	fs.StringVar(&o.lock, "lock", "/tmp/liveswap-e2e.lock", "lock file the end-to-end tests run under")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mutation: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if bad := validate(table, absent); len(bad) > 0 {
		fmt.Fprintf(stderr, "mutation: the table is malformed:\n  %s\n", strings.Join(bad, "\n  "))
		return 2
	}
	selected, err := selectMutations(table, o.only)
	if err != nil {
		fmt.Fprintln(stderr, "mutation:", err)
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(stderr, "mutation:", err)
		return 2
	}
	if o.list {
		writeList(stdout, selected, func(m Mutation) error {
			src, err := os.ReadFile(filepath.Join(root, m.File))
			if err != nil {
				return err
			}
			_, err = apply(src, m.File, m.Original, m.Replacement)
			return err
		})
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := check(ctx, root, selected, o, stderr)
	if s == nil {
		fmt.Fprintln(stderr, "mutation:", err)
		return 1
	}
	// An interrupted run still reports what it finished.
	writeTable(stdout, s)
	if werr := writeFiles(s, o); werr != nil {
		err = errors.Join(err, werr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mutation:", err)
		return 1
	}
	if !s.Passed() {
		return 1
	}
	return 0
}

// check runs the selected mutations one after the other.
func check(ctx context.Context, root string, selected []Mutation, o options, progress io.Writer) (*Summary, error) {
	base, err := os.MkdirTemp("", "liveswap-mutation-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(progress, "mutated copies are kept in %s\n", base)
	} else {
		defer os.RemoveAll(base)
	}
	x := &runner{root: root, base: base, lock: o.lock, timeout: o.timeout, keep: o.keep, vetOnly: o.vetOnly, log: progress, baseline: map[Step]StepResult{}}
	started := time.Now()
	var results []Result
	for i, m := range selected {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(progress, "[%d/%d] %s: %s\n", i+1, len(selected), m.ID, m.Verdict)
		r := x.mutate(ctx, m)
		fmt.Fprintf(progress, "  %s in %.0fs %s\n", r.Status, r.Seconds, caughtBy(r, 3))
		results = append(results, r)
	}
	if !o.keep {
		os.RemoveAll(x.work())
	}
	s := summarize(root, started, x.waited, results, absent)
	if ctx.Err() != nil {
		return s, fmt.Errorf("interrupted after %d of %d mutations", len(results), len(selected))
	}
	return s, nil
}

func writeFiles(s *Summary, o options) error {
	write := func(path string, render func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := render(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return errors.Join(
		write(o.jsonFile, func(w io.Writer) error { return writeJSON(w, s) }),
		write(o.markdown, func(w io.Writer) error { writeMarkdown(w, s); return nil }),
	)
}

// moduleRoot is the folder of the go.mod the command runs in.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run it from liveswap's folder (go run ./e2e/mutation)")
	}
	return filepath.Dir(mod), nil
}
