// Package shim is what runs once per container for the container's whole
// life: the liveswapd-shim binary (cmd/liveswapd-shim). It starts the
// container (through runc, or directly for image host), stays its parent
// (a child subreaper), writes its output to the json-file log and records
// how it ended. It must stay small: it imports the standard library and
// the host adapters only, never the daemon, its API or the Docker SDK
// (internal/layers checks it).
//
// The daemon <-> shim protocol is files in the container's run folder plus
// signals, nothing else, so a daemon of a newer version can adopt the shims
// an older one started: the files below only ever gain fields, and
// ProtoVersion changes only if a field changes meaning.
//
//	exec-root/containers/ID/process.json  daemon -> shim: what to run
//	exec-root/containers/ID/spawn.json    daemon: the shim it forked (pid, start time), before the go-ahead
//	exec-root/containers/ID/shim.json     shim -> daemon: shim and container pids, start times
//	exec-root/containers/ID/exit.json     shim -> daemon: how the container ended
//	exec-root/containers/ID/config.json   daemon -> runc: the OCI runtime spec (root folder images)
//
// The daemon starts `liveswapd-shim RUNDIR` (the file beside liveswapd's
// own) in a new session with fd 3 the read end of a pipe; the shim starts
// the container after reading one byte from it (the daemon first records it
// in spawn.json, then moves it into its systemd scope) and gives up if the
// pipe closes without that byte. Because spawn.json is on disk before the
// go-ahead, a daemon restarted at any moment knows every shim that may
// start a container, and never starts a second one for the same run. The
// shim runs with the run folder as its working directory and names its
// files relative to it, so even a shim whose folder was renamed away writes
// only into its own folder. The daemon signals the container process
// directly, through a pidfd checked against the recorded start time. Once
// the container process has exited, the shim kills what is left of the
// container's processes, writes exit.json and exits.
//
// A running shim keeps the file it was started from: replacing
// liveswapd-shim on disk (an upgrade) changes the shim of containers
// started afterwards only.
package shim

import (
	"time"

	"github.com/liveswap/liveswap/internal/host/procfs"
)

// ProtoVersion is the version of the run folder files.
const ProtoVersion = 1

// Run folder file names.
const (
	ProcessFile = "process.json"
	SpawnFile   = "spawn.json"
	RecordFile  = "shim.json"
	ExitFile    = "exit.json"
	LogFile     = "shim.log"
	BundleFile  = "config.json"
	RuncLogFile = "runc.log"
	RuncPidFile = "container.pid"
)

// Process is process.json.
type Process struct {
	Version int      `json:"version"`
	ID      string   `json:"id"`
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Cwd     string   `json:"cwd"`
	Root    string   `json:"root,omitempty"` // the image's root folder (in the bundle too); "" = host filesystem
	UID     uint32   `json:"uid"`
	GID     uint32   `json:"gid"`
	Groups  []uint32 `json:"groups,omitempty"`
	LogPath string   `json:"logPath"` // "" = log driver none: output is read and dropped
	// LogMaxSize and LogMaxFiles rotate the log (json-file max-size,
	// max-file): LogPath, LogPath.1, ... LogPath.N-1, newest first.
	LogMaxSize  int64 `json:"logMaxSize,omitempty"`
	LogMaxFiles int   `json:"logMaxFiles,omitempty"`
	// Runc, when set, runs the container through runc with the run
	// folder as its bundle (config.json); Root, UID, Cwd and Env are then
	// in the bundle. Every liveswapd-shim binary knows the field (shims
	// from before it were liveswapd's own binary, run as `liveswapd shim`).
	Runc *Runc `json:"runc,omitempty"`
}

// Runc says which runc runs a container and where runc keeps its
// state. runc is run only to create, and to delete once the container
// ended: no runc process lives beside a running container, so runc is
// upgraded by replacing its file.
type Runc struct {
	Binary string `json:"binary"`
	Root   string `json:"root"`
}

// Spawn is spawn.json: the shim the daemon forked, recorded before
// the shim may start the container.
type Spawn struct {
	Version   int       `json:"version"`
	ShimPid   int       `json:"shimPid"`
	ShimStart uint64    `json:"shimStart"` // /proc start time, PID-reuse guard
	SpawnedAt time.Time `json:"spawnedAt"`
}

// Record is shim.json.
type Record struct {
	Version   int       `json:"version"`
	ShimPid   int       `json:"shimPid"`
	ShimStart uint64    `json:"shimStart"` // /proc start time, PID-reuse guard
	Pid       int       `json:"pid"`
	PidStart  uint64    `json:"pidStart"`
	StartedAt time.Time `json:"startedAt"`
}

// Exit is exit.json.
type Exit struct {
	Version    int       `json:"version"`
	ExitCode   int       `json:"exitCode"`
	Signal     int       `json:"signal,omitempty"`
	Error      string    `json:"error,omitempty"`     // set when the process could not start
	OOMKilled  bool      `json:"oomKilled,omitempty"` // the memory limit killed a process of the container
	FinishedAt time.Time `json:"finishedAt"`
}

// Verdict is what the daemon concludes about a container's shim.
type Verdict int

const (
	// Alive: the recorded shim runs; adopt it.
	Alive Verdict = iota
	// Exited: the container ended and its exit status is on disk.
	Exited
	// Lost: the shim is gone (or its pid now belongs to another
	// process) without recording an exit status.
	Lost
	// None: no shim was ever forked for this folder.
	None
	// Starting: the daemon forked the shim and recorded it, and the
	// shim lives but has not recorded the container's start yet (it may
	// be waiting for the go-ahead, or be stopped). It is adopted as it is,
	// never replaced: a second shim would run the container twice.
	Starting
)

func (v Verdict) String() string {
	return [...]string{"alive", "exited", "lost", "none", "starting"}[v]
}

// Observation gathers what the daemon sees of a shim: its files and
// the process now holding the recorded shim pid.
type Observation struct {
	Spawn  *Spawn      // spawn.json; nil when absent
	Record *Record     // shim.json; nil when absent
	Exit   *Exit       // exit.json; nil when absent
	Proc   procfs.Proc // /proc of the recorded shim pid (shim.json's, else spawn.json's)
}

// Shim returns the recorded shim pid and start time, from shim.json or,
// before the shim wrote it, from spawn.json.
func (o Observation) Shim() (pid int, start uint64, ok bool) {
	switch {
	case o.Record != nil:
		return o.Record.ShimPid, o.Record.ShimStart, true
	case o.Spawn != nil:
		return o.Spawn.ShimPid, o.Spawn.ShimStart, true
	}
	return 0, 0, false
}

// Decide is the one place that decides whether a shim is alive. An exit
// record wins (the shim writes it last, just before exiting); a shim pid
// whose start time differs from the recorded one is a recycled pid; a
// zombie has exited; a live shim that has not written shim.json yet is
// starting.
func Decide(o Observation) Verdict {
	_, start, recorded := o.Shim()
	switch {
	case o.Exit != nil:
		return Exited
	case !recorded:
		return None
	case !o.Proc.Exists, o.Proc.State == 'Z', o.Proc.State == 'X':
		return Lost
	case o.Proc.Start != start:
		return Lost
	case o.Record == nil:
		return Starting
	default:
		return Alive
	}
}
