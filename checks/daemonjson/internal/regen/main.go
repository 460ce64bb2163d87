// Command regen runs the real dockerd on every file of the daemon.json corpus
// and writes the verdicts the validator is tested against.
//
//	go run ./checks/daemonjson/internal/regen            # all files, rewrite verdicts.txt
//	go run ./checks/daemonjson/internal/regen -n a.json  # print one verdict, write nothing
//
// It must run as root; each dockerd gets its own temporary data-root,
// exec-root, pidfile and socket and is stopped (with its containerd) before
// the next one starts.
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
	"syscall"
	"time"

	"github.com/liveswap/liveswap/checks/daemonjson/internal/dockerdrun"
)

func main() {
	corpus := flag.String("corpus", "checks/daemonjson/testdata/corpus", "corpus folder")
	dockerd := flag.String("dockerd", "/usr/sbin/dockerd", "dockerd binary")
	dry := flag.Bool("n", false, "print verdicts of the named files (or all), do not write verdicts.txt")
	flag.Parse()
	if err := run(*corpus, *dockerd, *dry, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "regen:", err)
		os.Exit(1)
	}
}

func run(corpus, dockerd string, dry bool, only []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	files, err := filepath.Glob(filepath.Join(corpus, "*.json"))
	if err != nil {
		return err
	}
	if len(only) > 0 {
		files = files[:0]
		for _, f := range only {
			files = append(files, filepath.Join(corpus, filepath.Base(f)))
		}
	}
	sort.Strings(files)
	version, err := exec.CommandContext(ctx, dockerd, "--version").Output()
	if err != nil {
		return fmt.Errorf("%s --version: %w", dockerd, err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "# Verdicts of %s on this corpus, written by checks/daemonjson/internal/regen.\n", strings.TrimSpace(string(version)))
	fmt.Fprintf(&out, "# Generated %s. Format: FILE starts|refuses [dockerd's error message]\n", time.Now().UTC().Format("2006-01-02"))
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		extra, err := dockerdrun.ReadExtraFlags(f)
		if err != nil {
			return err
		}
		res, err := dockerdrun.Run(ctx, content, extra, dockerdrun.Options{Dockerd: dockerd})
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		line := fmt.Sprintf("%s %s", filepath.Base(f), res.Verdict)
		if res.Reason != "" {
			line += " " + res.Reason
		}
		fmt.Fprintf(os.Stderr, "%-40s %-8s %5.1fs %s\n", filepath.Base(f), res.Verdict, res.Duration.Seconds(), res.Reason)
		out.WriteString(line + "\n")
	}
	if dry {
		return nil
	}
	return os.WriteFile(filepath.Join(corpus, "verdicts.txt"), []byte(out.String()), 0o644)
}
