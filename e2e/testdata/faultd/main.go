// Command faultd stands in for a broken new daemon binary in liveswap's
// fault tests: it passes the pre-flight checks (a root-owned ELF that
// answers --version, and --validate as liveswapd does) and then misbehaves
// as its build-time mode says. With a delegate in any mode but exec, the
// delegate answers --version and --validate: a broken dockerd is the real
// dockerd's answers with a start that fails.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// Set with -ldflags -X.
var (
	version = "0.0.0"
	// mode is the fault:
	//   exit             fail at start
	//   hang             never become ready
	//   exec             run delegate (reporting another version than --version claims)
	//   no-live-restore  run delegate with live-restore forced off in its daemon.json
	//   stop-after-ready run delegate; once it is ready, tell systemd the
	//                    service is stopping (STOPPING=1) while it still serves
	//   stop-after-hup   the same after the first SIGHUP's reload job (a reload
	//                    that stops the daemon), then the delegate reloads
	mode = "exit"
	// delegate is the real daemon that runs in modes exec, no-live-restore
	// and stop-after-*, and answers --version and --validate in the others.
	delegate = ""
)

// linger is how long a stopping faultd keeps its delegate serving before it
// stops it: long enough for liveswap to see a daemon answering from a unit
// on its way down.
const linger = 3 * time.Second

func main() {
	for i, a := range os.Args[1:] {
		if delegate != "" && mode != "exec" && (a == "--version" || a == "-v" || a == "--validate") {
			run(delegate, os.Args[1:])
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
		run(delegate, os.Args[1:])
	case "no-live-restore":
		run(delegate, liveRestoreOff(os.Args[1:]))
	case "stop-after-ready", "stop-after-hup":
		os.Exit(relay(delegate, mode))
	default:
		fmt.Fprintln(os.Stderr, "faultd: failing at start as asked")
		os.Exit(1)
	}
}

// run replaces this process with bin and args.
func run(bin string, args []string) {
	err := syscall.Exec(bin, append([]string{bin}, args...), os.Environ())
	fmt.Fprintln(os.Stderr, "faultd:", err)
	os.Exit(1)
}

// liveRestoreOff writes a copy of the --config-file with live-restore
// false beside it and returns args naming the copy.
func liveRestoreOff(args []string) []string {
	out := append([]string{}, args...)
	for i, a := range out {
		if a != "--config-file" || i+1 >= len(out) {
			continue
		}
		var cfg map[string]any
		data, err := os.ReadFile(out[i+1])
		if err == nil {
			err = json.Unmarshal(data, &cfg)
		}
		if err == nil {
			cfg["live-restore"] = false
			data, err = json.Marshal(cfg)
		}
		copyPath := filepath.Join(filepath.Dir(out[i+1]), "faultd-no-live-restore.json")
		if err == nil {
			err = os.WriteFile(copyPath, data, 0o600)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "faultd:", err)
			os.Exit(1)
		}
		out[i+1] = copyPath
	}
	return out
}

// relay runs bin as its child with a notify socket of its own, passes the
// child's READY=1 on to systemd as the unit's main process, and then (after
// ready, or after the first SIGHUP) sends STOPPING=1: the unit is deactivating
// while the child still answers. After linger it stops the child and exits
// with it. Signals are passed on.
func relay(bin, when string) int {
	sock := filepath.Join(os.TempDir(), fmt.Sprintf("faultd-%d.sock", os.Getpid()))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultd:", err)
		return 1
	}
	defer os.Remove(sock)
	cmd := exec.Command(bin, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sock)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "faultd:", err)
		return 1
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if strings.Contains(string(buf[:n]), "READY=1") {
				close(ready)
				return
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			sddaemon.SdNotify(false, "STOPPING=1")
			fmt.Fprintf(os.Stderr, "faultd: told systemd the service is stopping; the delegate serves %v more\n", linger)
			time.AfterFunc(linger, func() { cmd.Process.Signal(syscall.SIGTERM) })
		})
	}
	for {
		select {
		case <-ready:
			ready = nil
			sddaemon.SdNotify(false, "READY=1")
			if when == "stop-after-ready" {
				stop()
			}
		case s := <-sigs:
			if s == syscall.SIGHUP && when == "stop-after-hup" {
				when = ""
				// The reload job ends when ExecReload's kill exits; STOPPING=1
				// before that would hold the job until the unit is down. So:
				// wait for the job, then stop, and only then let the child
				// reload — the API reports live restore on only from a unit on
				// its way down.
				go func() {
					time.Sleep(300 * time.Millisecond)
					stop()
					cmd.Process.Signal(syscall.SIGHUP)
				}()
				continue
			}
			cmd.Process.Signal(s)
		case <-exited:
			return cmd.ProcessState.ExitCode()
		}
	}
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
