// Command liveswapd-shim is the process liveswapd starts once per
// container, for the container's whole life (package runtime/shim). It is
// a binary of its own, beside liveswapd, so that each container costs the
// memory of a small program rather than of the whole daemon.
package main

import (
	"fmt"
	"os"

	"github.com/liveswap/liveswap/runtime/shim"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-v") {
		fmt.Printf("liveswapd-shim version %s\n", version)
		return
	}
	os.Exit(shim.Main(os.Args[1:]))
}
