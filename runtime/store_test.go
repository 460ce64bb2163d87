package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/testbed"
	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/shim"
)

// TestMain lets the test binary act as liveswapd-shim: the daemon under
// test re-executes /proc/self/exe, which it names liveswapd-shim.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == ShimName {
		os.Exit(shim.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// startTestStore runs a container store in-process, without the API, in
// a folder of its own; its containers are removed at the end.
func startTestStore(t *testing.T) *Daemon {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "lsst-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultConfig()
	cfg.LiveRestore = true
	cfg.DataRoot = filepath.Join(dir, "data")
	cfg.ExecRoot = filepath.Join(dir, "exec")
	cfg.ShutdownTimeout = 2
	cfg.AllowHostImage = true // the tests run the host's binaries
	d, err := NewDaemon(cfg, Options{Version: "9.9.9-test", ShimBinary: "/proc/self/exe", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range d.List() {
			d.Remove(context.Background(), c, true)
		}
		d.Shutdown(context.Background())
		d.Close()
		os.RemoveAll(dir)
	})
	return d
}

func TestRestartPolicyOnFailureCounts(t *testing.T) {
	d := startTestStore(t)
	ctx := context.Background()
	c, _, err := d.Create("flaky", &container.Config{Image: "host", Cmd: []string{"sh", "-c", "exit 3"}},
		&container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	testbed.WaitUntil(t, "two policy restarts then exited", 10*time.Second, func() bool {
		_, st := c.Snapshot()
		return st.RestartCount == 2 && st.Status == StatusExited && st.ExitCode == 3
	})
	// The exit handler asks the policy right after recording the exit; ask
	// it again here, synchronously, rather than sleep and hope a wrong
	// restart would have shown by then. Both see the same state.
	d.maybeRestart(c, false)
	c.mu.Lock()
	status, pending, count := c.st.Status, c.timer != nil, c.st.RestartCount
	c.mu.Unlock()
	if status != StatusExited || pending || count != 2 {
		t.Errorf("after the limit: status %s, restart pending %v, RestartCount %d; want exited, none pending, 2", status, pending, count)
	}
}

// TestExecResize resizes sessions in each state: a running -t session's
// master gets the size, one not started yet keeps it for its start, the
// rest are refused naming the exec.
func TestExecResize(t *testing.T) {
	master, slave, err := openTerminal(&pty.Winsize{Rows: 10, Cols: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	tty := container.ExecOptions{Tty: true, Cmd: []string{"/bin/sh"}}
	d := &Daemon{}
	live := &execSession{id: "live", opts: tty, started: true, master: master}
	created := &execSession{id: "created", opts: tty}
	ended := &execSession{id: "ended", opts: tty, started: true}
	plain := &execSession{id: "plain", opts: container.ExecOptions{Cmd: []string{"true"}}, started: true}
	for _, s := range []*execSession{live, created, ended, plain} {
		d.execs.add(s)
	}
	for _, tt := range []struct {
		id         string
		rows, cols uint16
		err        error
		msg        string
	}{
		{"live", 33, 97, nil, ""},
		{"created", 12, 34, nil, ""},
		{"nope", 1, 1, ErrNotFound, "No such exec instance: nope"},
		{"ended", 1, 1, ErrConflict, "exec ended is not running"},
		{"plain", 1, 1, ErrConflict, "exec plain has no terminal"},
	} {
		e, err := d.Exec(tt.id)
		if err == nil {
			err = e.Resize(pty.Winsize{Rows: tt.rows, Cols: tt.cols})
		}
		if tt.err == nil && err != nil || tt.err != nil && (!errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg)) {
			t.Errorf("resize %s: %v, want %v containing %q", tt.id, err, tt.err, tt.msg)
		}
	}
	if rows, cols, err := pty.Getsize(slave); err != nil || rows != 33 || cols != 97 {
		t.Errorf("the live session's terminal is %dx%d (%v), want 33x97", rows, cols, err)
	}
	if created.size == nil || created.size.Rows != 12 || created.size.Cols != 34 {
		t.Errorf("the created session kept %+v, want 12x34 for its start", created.size)
	}
}
