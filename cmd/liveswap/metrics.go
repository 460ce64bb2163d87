package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/liveswap/liveswap/upgrade"
)

// addMetricsFlag registers --metrics-file, shared by apply and rollback.
func addMetricsFlag(f *pflag.FlagSet, path *string) {
	f.StringVar(path, "metrics-file", "", "write the run's result, versions, downtime and probe figures here in Prometheus text format, atomically\n(for node_exporter's textfile collector: a *.prom file in its --collector.textfile.directory)")
}

// checkMetricsFile refuses a metrics path whose folder is missing before
// anything runs: finding out after an upgrade would lose its figures.
func checkMetricsFile(path string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return usageError(fmt.Sprintf("--metrics-file %s: folder %s does not exist (create it, or point at the textfile collector's folder)", path, dir))
	}
	return nil
}

// writeMetrics writes the metrics file when asked; a failure is reported
// but does not change the run's exit status, which describes the daemon.
func writeMetrics(errw io.Writer, path string, rep *upgrade.Report) {
	if path == "" || rep == nil {
		return
	}
	if err := rep.WriteMetricsFile(path, time.Now()); err != nil {
		fmt.Fprintln(errw, "liveswap: warning:", err)
	}
}
