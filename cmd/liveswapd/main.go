// Command liveswapd is liveswap's bundled container runtime daemon: a subset
// of the Docker Engine API with live restore, for hosts without Docker.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/liveswap/liveswap/runtime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// Shim mode first: a shim must not parse daemon flags or config.
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(runtime.ShimMain(os.Args[2:]))
	}
	fs := flag.NewFlagSet("liveswapd", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(showVersion, "v", false, "shorthand for --version")
	flags := runtime.NewFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Printf("liveswapd version %s\n", version)
		return
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "liveswapd: unexpected argument %q (flags only; see --help)\n", fs.Arg(0))
		os.Exit(2)
	}
	cfg, err := flags.Load()
	if err != nil {
		fmt.Fprintf(os.Stderr, "liveswapd: %v\n", err)
		os.Exit(1)
	}
	os.Exit(runtime.Run(cfg, flags, version))
}
