// Package runtime is liveswapd, liveswap's bundled container runtime
// daemon: a subset of the Docker Engine API (1.41, what the docker.io CLI
// and a negotiating Docker Go SDK use) over unix sockets, with dockerd's
// daemon.json keys and live-restore semantics, for hosts without Docker.
//
// # Packages
//
// This package is the container store: containers and their state on disk,
// and what happens to them — create.go, start.go (the shim's spawn),
// exit.go and restart.go (a run's end, the restart policy), stop.go
// (stop, kill, remove, wait), restore.go (adopting shims at start),
// exec.go and exec_tty.go (exec sessions), logs.go, events.go. The rest
// is in sub-packages by concern, in the manner of containerd's
// core/runtime/v2:
//
//	runtime/api      the Engine API server; it talks to the store through
//	                 its exported methods (Create, Start, Stop, Kill, Wait,
//	                 List, Get, ExecCreate, Exec, Logs, Subscribe...)
//	runtime/health   healthcheck rules and the monitor loop, driven through
//	                 health.Target (healthcheck.go here)
//	runtime/config   daemon.json, flags, log driver rules, --validate
//	runtime/shim     liveswapd-shim and the run folder protocol
//	runtime/oci      the OCI bundle runc runs
//	runtime/image    the image store
//	runtime/errdefs  the error categories the API maps to statuses
//
// The layer rule (internal/layers): the store imports its sub-packages
// but never runtime/api; runtime/api imports the store; the other
// sub-packages import only runtime/errdefs and the shared adapters
// (internal/host). cmd/liveswapd wires config, store, API server and
// sockets (serve.go).
//
// # Containers
//
// A container's image is the absolute path of a root filesystem folder
// (the SDK can send one; the docker CLI refuses it as an image reference)
// or "host". A root folder image runs through runc, isolated: an OCI
// bundle per run (package runtime/oci: its own PID, mount, IPC, UTS and cgroup
// namespaces, the host's network or none, Docker's capabilities, seccomp
// profile and masked paths, no-new-privileges, cgroup limits, binds and
// tmpfs). Image "host" runs unisolated on the host and only with the
// daemon's allow-host-image opt-in (isolation.go). A create request field
// liveswapd does not honour is refused naming its flag (surface.go), never
// accepted and ignored. TTY and stdin are refused: containers are
// detached, their output goes to a log. Published ports are dropped with a
// warning, as dockerd does with host networking. docs/liveswapd.md lists
// what is supported and refused.
//
// # Shims
//
// Every container runs under its own shim, `liveswapd-shim RUNDIR`, the
// small binary beside the daemon's (package runtime/shim, whose proto.go
// is the protocol; shimbin.go finds it): a session leader and child subreaper that holds the container
// process (started by `runc run --detach`, which exits at once, for a root
// folder image), writes its stdout and stderr to a json-file log itself (so a
// stopped daemon can never block a container on a full pipe) and records
// the exit status on disk. The daemon never talks to a shim but through
// files and signals, so a newer daemon adopts the shims of an older one.
// Under systemd each shim is moved into its own transient scope, so
// restarting the daemon's unit never kills containers, whatever its
// KillMode.
//
// # State
//
//	data-root/containers/ID/config.json   what was asked at create (fixed)
//	data-root/containers/ID/state.json    status, exit code, restart count
//	data-root/containers/ID/ID-json.log   the container's output
//	data-root/containers/ID/ID-json.log.N rotated output (json-file max-size, max-file)
//	data-root/containers/ID/rootfs        the root of a stored image's container (overlay or copy; upper, work beside)
//	data-root/images/                     the image store (package runtime/image)
//	exec-root/containers/ID/              the current run (process, spawn, shim, exit)
//	exec-root/execs/EXEC/                 a running exec or healthcheck (runc exec's process.json, pid)
//
// Files are written atomically (temporary file, fsync, rename, fsync of
// the folder); a folder is deleted by renaming it to a hidden name first,
// and loaders skip hidden names. On start the daemon adopts every live
// shim in parallel (same PID, StartedAt and RestartCount) and records the
// exit of containers that ended while it was down; shim.Decide decides,
// with the shim's /proc start time as the PID-reuse guard, and signals go
// through pidfds checked against the recorded start times. A shim is on
// disk (spawn.json) before it may start anything, so a daemon killed at
// any point never loses one and never starts a container twice; with
// live-restore off, containers a dead daemon left running are stopped at
// start, as dockerd does. docs/security.md lists these guarantees, the
// API's request limits and the log drivers, and the tests behind them.
//
// # Attach, exec, healthchecks
//
// Attach streams follow the container's log (the shim writes it; the
// daemon is not in the output's path). Exec sessions and healthchecks run
// `runc exec` as the daemon's children with the container's own process
// settings; healthchecks are the daemon's, so the shim stays small, and
// their state in state.json lets the next daemon resume them.
//
// # Restart policies
//
// no, always, unless-stopped and on-failure[:N] behave as in dockerd:
// back-off from 100 ms doubling up to a minute (reset after 10 s of
// running), policy restarts count in RestartCount, stop and kill with a
// terminating signal (TERM, INT, KILL) keep the container down, and at
// daemon start "always" brings back even a stopped container while
// "unless-stopped" does not.
package runtime
