package systemd_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/internal/testbed"
)

// TestManagerAgainstRealSystemd reads unit properties and runs jobs on a real
// systemd user manager, reached the way `--systemd user` reaches it.
func TestManagerAgainstRealSystemd(t *testing.T) {
	testbed.Require(t)
	sd := testbed.StartSystemd(t)
	sd.InstallUnit(t, "sleeper.service", `[Service]
Type=simple
ExecStart=/bin/sleep 1000
ExecReload=/bin/true
KillMode=process
TimeoutStopSec=7
`)
	sd.InstallUnit(t, "broken.service", `[Service]
Type=oneshot
ExecStart=/bin/false
`)
	sd.InstallUnit(t, "slow.service", `[Service]
Type=simple
ExecStartPre=/bin/sleep 1
ExecStart=/bin/sleep 1000
KillMode=process
`)
	sd.InstallUnit(t, "slowbroken.service", `[Service]
Type=oneshot
ExecStartPre=/bin/sleep 1
ExecStart=/bin/false
`)
	sd.StartUnit(t, "sleeper.service")

	for _, env := range []string{"private", "bus"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", sd.RuntimeDir)
			if env == "private" {
				t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
			} else {
				t.Setenv("DBUS_SESSION_BUS_ADDRESS", sd.Env()[1][len("DBUS_SESSION_BUS_ADDRESS="):])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The connection outlives the context that dialled it.
			dctx, dcancel := context.WithCancel(ctx)
			m, err := systemd.Connect(dctx, systemd.User)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			dcancel()

			u, err := m.Unit(ctx, "sleeper.service")
			if err != nil {
				t.Fatal(err)
			}
			if u.ActiveState != "active" || u.KillMode != "process" || u.Type != "simple" || u.TimeoutStopSec != 7 ||
				len(u.ExecStart) != 1 || u.ExecStart[0].String() != "/bin/sleep 1000" || len(u.ExecReload) != 1 {
				t.Fatalf("unexpected unit: %+v", u)
			}
			before := u.MainPID
			if err := m.Restart(ctx, "sleeper.service"); err != nil {
				t.Fatal(err)
			}
			u, _ = m.Unit(ctx, "sleeper.service")
			if u.MainPID == before || u.MainPID == 0 {
				t.Fatalf("restart kept MainPID %d", before)
			}
			if err := m.Reload(ctx, "sleeper.service"); err != nil {
				t.Fatal(err)
			}
			var je *systemd.JobError
			if err := m.Start(ctx, "broken.service"); !errors.As(err, &je) || je.Result != "failed" {
				t.Fatalf("start of a failing unit: %v", err)
			}
			m.ResetFailed(ctx, "broken.service")
			u, err = m.Unit(ctx, "missing.service")
			if err != nil || u.LoadState != "not-found" {
				t.Fatalf("missing unit: %+v %v", u, err)
			}

			// A dropped connection is dialled again on the next call.
			m.Conn().Close()
			if u, err := m.Unit(ctx, "sleeper.service"); err != nil || u.ActiveState != "active" {
				t.Fatalf("after the connection dropped: %+v %v", u, err)
			}
			// A drop while a job runs loses its result signal: the unit's
			// state gives the verdict instead, done or failed.
			for _, tc := range []struct {
				unit, verb string
				wantErr    bool
			}{{"slow.service", "restart", false}, {"slowbroken.service", "start", true}} {
				old := m.Conn()
				go func() { time.Sleep(300 * time.Millisecond); old.Close() }()
				var err error
				if tc.verb == "restart" {
					err = m.Restart(ctx, tc.unit)
				} else {
					err = m.Start(ctx, tc.unit)
				}
				if (err != nil) != tc.wantErr || (tc.wantErr && !errors.As(err, &je)) {
					t.Fatalf("%s of %s with the connection dropped during the job: %v (want error %v)", tc.verb, tc.unit, err, tc.wantErr)
				}
				if m.Conn() == old {
					t.Fatalf("%s of %s: the connection was not made again", tc.verb, tc.unit)
				}
				m.ResetFailed(ctx, tc.unit)
			}
		})
	}
}

// TestPrivateManagersKeepApart runs two private managers with a unit of the
// same name: each unit's cgroup is below its own manager's, and stopping
// one leaves the other's process running (on one shared cgroup tree, the
// stop of one killed both).
func TestPrivateManagersKeepApart(t *testing.T) {
	testbed.Require(t)
	var sds [2]*testbed.Systemd
	var pids [2]int
	for i := range sds {
		sds[i] = testbed.StartSystemd(t)
		if sds[i].Cgroup() == "" {
			t.Fatal("the manager has no cgroup of its own")
		}
		sds[i].InstallUnit(t, "same.service", "[Service]\nExecStart=/bin/sleep 1000\n")
		sds[i].StartUnit(t, "same.service")
		pids[i] = sds[i].MainPID(t, "same.service")
		cg := procfs.Cgroup(pids[i])
		if !strings.HasPrefix(cg, sds[i].Cgroup()+"/") {
			t.Fatalf("manager %d: unit process %d in cgroup %s, not below %s", i, pids[i], cg, sds[i].Cgroup())
		}
	}
	if sds[0].Cgroup() == sds[1].Cgroup() {
		t.Fatalf("both managers in %s", sds[0].Cgroup())
	}
	sds[0].StopUnit(t, "same.service")
	if procfs.Alive(pids[0]) {
		t.Errorf("the stopped unit's process %d still runs", pids[0])
	}
	if !procfs.Alive(pids[1]) {
		t.Fatalf("stopping manager 0's same.service killed manager 1's process %d", pids[1])
	}
}

// TestUnitCommandExpanded reads a unit written as Debian's docker.service
// is, ExecStart ending in $DOCKER_OPTS from an EnvironmentFile: the
// command line liveswap audits is the one systemd runs.
func TestUnitCommandExpanded(t *testing.T) {
	testbed.Require(t)
	sd := testbed.StartSystemd(t)
	dir := t.TempDir()
	for name, body := range map[string]string{"unset": "#DOCKER_OPTS=\"--dns 8.8.8.8\"\n", "set": "DOCKER_OPTS=\"--log-level debug\"\n"} {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	tests := []struct {
		name, envFile, env string
		want               string
	}{
		{"Debian default", "-" + filepath.Join(dir, "unset"), "", "/bin/sleep 1000"},
		{"DOCKER_OPTS set", filepath.Join(dir, "set"), "", "/bin/sleep 1000 --log-level debug"},
		{"missing optional file, Environment=", "-" + filepath.Join(dir, "none"), "DOCKER_OPTS=-x", "/bin/sleep 1000 -x"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unit := fmt.Sprintf("env%d.service", i)
			body := "[Service]\nEnvironmentFile=" + tt.envFile + "\nExecStart=/bin/sleep 1000 $DOCKER_OPTS\n"
			if tt.env != "" {
				body += "Environment=" + tt.env + "\n"
			}
			sd.InstallUnit(t, unit, body)
			sd.Reload(t)
			t.Setenv("XDG_RUNTIME_DIR", sd.RuntimeDir)
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
			m, err := systemd.Connect(context.Background(), systemd.User)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			u, err := m.Unit(context.Background(), unit)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.ExecStart[0].String(); got != tt.want {
				t.Errorf("ExecStart %q (raw %q), want %q", got, u.ExecStart[0].Raw, tt.want)
			}
		})
	}
}
