// Command faultd stands in for a broken new daemon binary in liveswap's
// fault tests: it passes the pre-flight binary checks (a root-owned ELF that
// answers --version) and then misbehaves as its build-time mode says.
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// Set with -ldflags -X.
var (
	version = "0.0.0"
	mode    = "exit" // exit: fail at start; hang: never become ready; exec: run delegate
	// delegate is the real daemon to run in mode exec (reporting another
	// version than --version claims).
	delegate = ""
)

func main() {
	for _, a := range os.Args[1:] {
		if a == "--version" || a == "-v" {
			fmt.Printf("liveswapd version %s\n", version)
			return
		}
	}
	switch mode {
	case "hang":
		for {
			time.Sleep(time.Hour)
		}
	case "exec":
		err := syscall.Exec(delegate, append([]string{delegate}, os.Args[1:]...), os.Environ())
		fmt.Fprintln(os.Stderr, "faultd:", err)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "faultd: failing at start as asked")
		os.Exit(1)
	}
}
