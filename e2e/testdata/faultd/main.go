// Command faultd stands in for a broken new daemon binary in liveswap's
// fault tests: it passes the pre-flight checks (a root-owned ELF that
// answers --version, and --validate as liveswapd does) and then misbehaves
// as its build-time mode says. With a delegate in mode exit or hang, the
// delegate answers --version and --validate: a broken dockerd is the real
// dockerd's answers with a start that fails.
package main

import (
	"encoding/json"
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
	// version than --version claims), or the one that answers --version and
	// --validate in the other modes.
	delegate = ""
)

func main() {
	for i, a := range os.Args[1:] {
		if delegate != "" && mode != "exec" && (a == "--version" || a == "-v" || a == "--validate") {
			run(delegate)
		}
		if a == "--version" || a == "-v" {
			fmt.Printf("liveswapd version %s\n", version)
			return
		}
		if a == "--validate" && mode != "exec" {
			os.Exit(validate(os.Args[i+2:]))
		}
	}
	switch mode {
	case "hang":
		for {
			time.Sleep(time.Hour)
		}
	case "exec":
		run(delegate)
	default:
		fmt.Fprintln(os.Stderr, "faultd: failing at start as asked")
		os.Exit(1)
	}
}

// run replaces this process with bin and the same arguments.
func run(bin string) {
	err := syscall.Exec(bin, append([]string{bin}, os.Args[1:]...), os.Environ())
	fmt.Fprintln(os.Stderr, "faultd:", err)
	os.Exit(1)
}

// validate accepts any JSON file and reports its live-restore, as
// `liveswapd --validate` does for a good file: the fault is at start only.
func validate(args []string) int {
	var cfg struct {
		LiveRestore bool `json:"live-restore"`
	}
	for i, a := range args {
		if a == "--config-file" && i+1 < len(args) {
			data, err := os.ReadFile(args[i+1])
			if err == nil {
				err = json.Unmarshal(data, &cfg)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "faultd:", err)
				return 1
			}
		}
	}
	fmt.Fprintln(os.Stderr, "configuration OK")
	fmt.Printf("live-restore: %t\n", cfg.LiveRestore)
	return 0
}
