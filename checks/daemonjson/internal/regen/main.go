// Command regen runs the real dockerd of each release the oracle knows
// (dockerdrun.Known: Debian's docker.io 20.10.5, 20.10.24 and 26.1.5, each
// with its suite's containerd and runc) on every file of the daemon.json
// corpus and writes the verdicts the validator is tested against, one file
// per release: testdata/corpus/verdicts-RELEASE.txt.
//
//	go run ./checks/daemonjson/internal/regen                      # every release, every file
//	go run ./checks/daemonjson/internal/regen -release 26.1.5      # one release
//	go run ./checks/daemonjson/internal/regen -n a.json b.json     # print, write nothing
//
// It must run as root (it fetches the releases with e2e/releases.sh the
// first time). Each dockerd runs in a sandbox of its own (private mount,
// network and PID namespaces, private data-root, exec-root, pidfile and
// socket; see dockerdrun) and is gone, with its containerd, before its slot
// takes the next file; -j runs that many at once.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/liveswap/liveswap/checks/daemonjson"
	"github.com/liveswap/liveswap/checks/daemonjson/internal/dockerdrun"
)

func main() {
	corpus := flag.String("corpus", "checks/daemonjson/testdata/corpus", "corpus folder")
	only := flag.String("release", "", "comma-separated releases to run (default: all of "+names()+")")
	jobs := flag.Int("j", 2, "dockerd runs at once")
	dry := flag.Bool("n", false, "print verdicts of the named files (or all), write nothing")
	flag.Parse()
	if err := run(*corpus, *only, *jobs, *dry, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "regen:", err)
		os.Exit(1)
	}
}

func names() string {
	var n []string
	for _, k := range dockerdrun.Known {
		n = append(n, k.Name)
	}
	return strings.Join(n, ",")
}

func run(corpus, only string, jobs int, dry bool, files []string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root: dockerd needs namespaces and mounts")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := dockerdrun.ModuleRoot()
	if err != nil {
		return err
	}
	rels, err := dockerdrun.FindReleases(root)
	if err != nil {
		return err
	}
	if only != "" {
		var keep []dockerdrun.Release
		for _, name := range strings.Split(only, ",") {
			found := false
			for _, r := range rels {
				if r.Name == name {
					keep, found = append(keep, r), true
				}
			}
			if !found {
				return fmt.Errorf("-release %s: the oracle knows %s", name, names())
			}
		}
		rels = keep
	}
	if len(files) == 0 {
		if files, err = filepath.Glob(filepath.Join(corpus, "*.json")); err != nil {
			return err
		}
	} else {
		for i, f := range files {
			files[i] = filepath.Join(corpus, filepath.Base(f))
		}
	}
	sort.Strings(files)
	for _, rel := range rels {
		began := time.Now()
		lines, err := label(ctx, rel, files, jobs)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "regen: %s: %d files in %s\n", rel.Name, len(files), time.Since(began).Round(time.Second))
		if dry {
			continue
		}
		version, err := exec.Command(rel.Dockerd(), "--version").Output()
		if err != nil {
			return fmt.Errorf("%s --version: %w", rel.Dockerd(), err)
		}
		var out strings.Builder
		fmt.Fprintf(&out, "# Verdicts of %s (Debian %s, %s; containerd %s; runc %s) on this corpus,\n",
			strings.TrimSpace(string(version)), rel.Suite, filepath.Base(rel.Docker), filepath.Base(rel.Containerd), filepath.Base(rel.Runc))
		fmt.Fprintf(&out, "# each run a real start in a sandbox; written by checks/daemonjson/internal/regen.\n")
		fmt.Fprintf(&out, "# Host: %s. Generated %s.\n", hostFacts(), time.Now().UTC().Format("2006-01-02"))
		fmt.Fprintf(&out, "# Format: FILE starts|refuses [dockerd's error message]\n")
		out.WriteString(strings.Join(lines, ""))
		if err := os.WriteFile(filepath.Join(corpus, "verdicts-"+rel.Name+".txt"), []byte(out.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// label runs every file on rel, jobs at once, and returns the verdict
// lines in file order.
func label(ctx context.Context, rel dockerdrun.Release, files []string, jobs int) ([]string, error) {
	lines := make([]string, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < max(jobs, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				lines[i], errs[i] = labelOne(ctx, rel, files[i])
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", rel.Name, filepath.Base(files[i]), err)
		}
	}
	return lines, ctx.Err()
}

func labelOne(ctx context.Context, rel dockerdrun.Release, f string) (string, error) {
	content, err := os.ReadFile(f)
	if err != nil {
		return "", err
	}
	extra, err := dockerdrun.ReadExtraFlags(f)
	if err != nil {
		return "", err
	}
	res, err := dockerdrun.Run(ctx, content, extra, dockerdrun.Options{Release: rel, Files: filepath.Join(filepath.Dir(f), "files")})
	if err != nil {
		return "", err
	}
	line := fmt.Sprintf("%s %s", filepath.Base(f), res.Verdict)
	if res.Reason != "" {
		line += " " + res.Reason
	}
	fmt.Fprintf(os.Stderr, "%-9s %-46s %-8s %5.1fs %s\n", rel.Name, filepath.Base(f), res.Verdict, res.Duration.Seconds(), res.Reason)
	return line + "\n", nil
}

// hostFacts names what of the host a verdict can depend on.
func hostFacts() string {
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	rel := make([]byte, 0, len(uts.Release))
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	cg := "cgroup v1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg = "cgroup v2"
	}
	// The corpus test reads the file system back (sandboxHost): verdicts
	// of storage options depend on it.
	fs, err := daemonjson.FSTypeOf(os.TempDir())
	if err != nil {
		fs = "?"
	}
	return fmt.Sprintf("Linux %s, %s, %s under %s", rel, cg, fs, os.TempDir())
}
