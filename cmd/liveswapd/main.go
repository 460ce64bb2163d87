// Command liveswapd is liveswap's bundled container runtime daemon: a subset
// of the Docker Engine API with live restore, for hosts without Docker.
package main

import (
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("liveswapd version %s\n", version)
		return
	}
	fmt.Fprintln(os.Stderr, "liveswapd: not implemented yet")
	os.Exit(1)
}
