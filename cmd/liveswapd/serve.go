package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"golang.org/x/sys/unix"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/runtime"
	"github.com/liveswap/liveswap/runtime/api"
	"github.com/liveswap/liveswap/runtime/config"
)

// serve is the daemon: it takes the pidfile, restores containers, serves the
// API on the configured sockets and handles SIGHUP (reload) and
// SIGTERM/SIGINT (shutdown). It returns the process exit code.
func serve(cfg config.Config, flags *config.Flags, version string) int {
	level := new(slog.LevelVar)
	level.Set(cfg.Level())
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := runDaemon(cfg, flags, version, log, level); err != nil {
		log.Error("liveswapd failed", "err", err)
		return 1
	}
	return 0
}

func runDaemon(cfg config.Config, flags *config.Flags, version string, log *slog.Logger, level *slog.LevelVar) error {
	// Signals first, so a SIGTERM during restore is not lost. SIGPIPE is
	// not ignored: shims (and so containers) would inherit SIG_IGN, and Go
	// already turns SIGPIPE on sockets into EPIPE errors.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)

	if err := writePidfile(cfg.Pidfile); err != nil {
		return err
	}
	defer os.Remove(cfg.Pidfile)

	begin := time.Now()
	d, err := runtime.NewDaemon(cfg, runtime.Options{Version: version, Log: log, Level: level})
	if err != nil {
		return err
	}
	defer d.Close()

	// No ReadTimeout or WriteTimeout: they would cut logs -f, events and
	// wait. Headers, bodies (see bounded) and idle connections are bounded.
	srv := &http.Server{Handler: api.Handler(d), ReadHeaderTimeout: time.Duration(cfg.APIReadTimeout) * time.Second,
		IdleTimeout: time.Duration(cfg.APIIdleTimeout) * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	var listeners []net.Listener
	if cfg.SocketActivated() {
		ls, err := activation.Listeners()
		if err != nil || len(ls) == 0 {
			return fmt.Errorf("hosts name fd:// but systemd passed no socket (%v): start liveswapd through liveswapd.socket, or listen on unix:///run/liveswapd.sock", err)
		}
		for _, l := range ls {
			if l == nil {
				continue
			}
			listeners = append(listeners, l)
			go srv.Serve(l)
		}
	}
	for _, p := range cfg.SocketPaths() {
		l, err := listenUnix(p)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, l)
		go srv.Serve(l)
	}
	log.Info("liveswapd ready", "version", version, "live-restore", cfg.LiveRestore, "sockets", cfg.SocketPaths(), "socket-activated", cfg.SocketActivated(), "restore", time.Since(begin).Round(time.Millisecond).String())
	notify(log, "READY=1\nSTATUS=serving the Engine API\nMAINPID="+strconv.Itoa(os.Getpid()))

	for sig := range sigs {
		if sig == syscall.SIGHUP {
			notify(log, "RELOADING=1\nMONOTONIC_USEC="+monotonicUsec())
			n, err := flags.Load()
			if err != nil {
				log.Error("reload refused; keeping the running configuration", "err", err)
			} else {
				d.Reload(n)
			}
			notify(log, "READY=1")
			continue
		}
		log.Info("shutting down", "signal", sig.String(), "live-restore", d.Config().LiveRestore)
		notify(log, "STOPPING=1")
		break
	}
	signal.Reset(syscall.SIGTERM, syscall.SIGINT)
	// Stop accepting (behind a socket unit, connections queue for the next
	// daemon), let the requests already accepted finish while the daemon
	// still answers them, then stop it (and containers, if live-restore is
	// off). Streaming requests (logs -f, events) are cut after a moment.
	for _, l := range listeners {
		l.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	d.Shutdown(context.Background())
	for _, p := range cfg.SocketPaths() {
		os.Remove(p)
	}
	log.Info("liveswapd stopped")
	return nil
}

func monotonicUsec() string {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return strconv.FormatInt(ts.Sec*1e6+ts.Nsec/1e3, 10)
}

// writePidfile refuses to start over a live daemon's pidfile, as dockerd.
func writePidfile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != os.Getpid() {
			if procfs.Alive(pid) {
				return fmt.Errorf("pid file found, ensure liveswapd is not running or delete %s (pid %d is alive)", path, pid)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating pidfile folder: %w", err)
	}
	return atomicfile.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// listenUnix listens on a unix socket with mode 0660, replacing a stale
// socket file but never a live one.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating socket folder for %s: %w", path, err)
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("socket %s is in use by another daemon", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
		}
	}
	// Create it with no access for others from the start (no window
	// between bind and chmod).
	old := unix.Umask(0o117)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("setting mode 0660 on %s: %w", path, err)
	}
	return l, nil
}

// notify sends an sd_notify state. Not running under systemd is normal:
// SdNotify then returns (false, nil).
func notify(log *slog.Logger, state string) {
	if _, err := sddaemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}
