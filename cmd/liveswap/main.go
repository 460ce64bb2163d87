// Command liveswap upgrades a container daemon's binary through systemd
// while its containers keep serving, and proves that none was interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	handleSignals(cancel)
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

// handleSignals: the first SIGINT or SIGTERM cancels ctx — no step that
// changes the host starts after it, and a run that already changed the
// host finishes or rolls back first. The second quits at once, saying how
// to find out where the host was left.
func handleSignals(cancel context.CancelCauseFunc) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\nliveswap: %v: stopping safely: no step that changes the host starts now, and a run that already changed it finishes (or rolls back) first. Send it again to quit at once.\n", s)
		cancel(fmt.Errorf("%v received", s))
		s = <-sigs
		fmt.Fprintf(os.Stderr, "liveswap: %v again: quitting now. The host may be between two binaries: run `liveswap status`, then `liveswap apply --resume` or `liveswap rollback`.\n", s)
		code := 130
		if n, ok := s.(syscall.Signal); ok {
			code = 128 + int(n)
		}
		os.Exit(code)
	}()
}

// exitError carries the process exit status chosen by a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode maps errors to exit statuses in one place.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && !errors.Is(ee.err, errSilent) {
			fmt.Fprintln(os.Stderr, "liveswap:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "liveswap:", err)
	return 2
}

// errSilent marks a failure whose explanation was already printed.
var errSilent = errors.New("silent")
