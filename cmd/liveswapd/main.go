// Command liveswapd is liveswap's bundled container runtime daemon: a subset
// of the Docker Engine API with live restore, for hosts without Docker.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/shim"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// `liveswapd shim RUNDIR` is the shim too, for a LIVESWAPD_SHIM_BINARY
	// wrapper that has only liveswapd at hand; the daemon itself starts
	// liveswapd-shim, a much smaller process. It must not parse daemon
	// flags or config.
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("liveswapd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(showVersion, "v", false, "shorthand for --version")
	validate := fs.Bool("validate", false, config.ValidateUsage)
	flags := config.NewFlags(fs)
	// A caller of --validate reads one error line, not the whole usage.
	fs.Usage = func() {
		if !*validate {
			fmt.Fprintln(stderr, "Usage of liveswapd:")
			fs.PrintDefaults()
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "liveswapd version %s\n", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "liveswapd: unexpected argument %q (flags only; see --help)\n", fs.Arg(0))
		return 2
	}
	if *validate {
		return config.Validate(flags, stdout, stderr)
	}
	cfg, err := flags.Load()
	if err != nil {
		fmt.Fprintf(stderr, "liveswapd: %v\n", err)
		return 1
	}
	return serve(cfg, flags, version)
}
