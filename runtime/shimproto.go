package runtime

import "time"

// The daemon <-> shim protocol. It is files in the container's run folder
// plus signals, nothing else, so a daemon of a newer version can adopt the
// shims an older one started: the files below only ever gain fields, and
// ProtoVersion changes only if a field changes meaning.
//
//	exec-root/containers/ID/process.json  daemon -> shim: what to run
//	exec-root/containers/ID/shim.json     shim -> daemon: shim and container pids, start times
//	exec-root/containers/ID/exit.json     shim -> daemon: how the container ended
//
// The daemon starts `liveswapd shim RUNDIR` in a new session with fd 3 the
// read end of a pipe; the shim starts the container after reading one byte
// from it (the daemon first moves the shim into its systemd scope) and gives
// up if the pipe closes without that byte. The daemon signals the container
// process directly, through a pidfd checked against the recorded start time;
// SIGTERM or SIGINT sent to the shim are forwarded to the container. Once
// the container process has exited, the shim kills what is left of the
// container's processes, writes exit.json and exits.

// ProtoVersion is the version of the run folder files.
const ProtoVersion = 1

// Run folder file names.
const (
	processFile = "process.json"
	shimFile    = "shim.json"
	exitFile    = "exit.json"
	shimLogFile = "shim.log"
)

// ProcessSpec is process.json.
type ProcessSpec struct {
	Version int      `json:"version"`
	ID      string   `json:"id"`
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Cwd     string   `json:"cwd"`
	Root    string   `json:"root,omitempty"` // chroot folder; "" = host filesystem
	UID     uint32   `json:"uid"`
	GID     uint32   `json:"gid"`
	Groups  []uint32 `json:"groups,omitempty"`
	LogPath string   `json:"logPath"`
}

// ShimRecord is shim.json.
type ShimRecord struct {
	Version   int       `json:"version"`
	ShimPid   int       `json:"shimPid"`
	ShimStart uint64    `json:"shimStart"` // /proc start time, PID-reuse guard
	Pid       int       `json:"pid"`
	PidStart  uint64    `json:"pidStart"`
	StartedAt time.Time `json:"startedAt"`
}

// ExitRecord is exit.json.
type ExitRecord struct {
	Version    int       `json:"version"`
	ExitCode   int       `json:"exitCode"`
	Signal     int       `json:"signal,omitempty"`
	Error      string    `json:"error,omitempty"` // set when the process could not start
	FinishedAt time.Time `json:"finishedAt"`
}

// ShimVerdict is what the daemon concludes about a container's shim.
type ShimVerdict int

const (
	// ShimAlive: the recorded shim runs; adopt it.
	ShimAlive ShimVerdict = iota
	// ShimExited: the container ended and its exit status is on disk.
	ShimExited
	// ShimLost: the shim is gone (or its pid now belongs to another
	// process) without recording an exit status.
	ShimLost
	// ShimNone: no shim ever recorded a start in this folder.
	ShimNone
)

func (v ShimVerdict) String() string {
	return [...]string{"alive", "exited", "lost", "none"}[v]
}

// ShimObservation gathers what the daemon sees of a shim: its files and
// the process now holding the recorded shim pid.
type ShimObservation struct {
	Record *ShimRecord // shim.json; nil when absent
	Exit   *ExitRecord // exit.json; nil when absent
	Proc   ProcInfo    // /proc of Record.ShimPid
}

// DecideShim is the one place that decides whether a shim is alive. An exit
// record wins (the shim writes it last, just before exiting); a shim pid
// whose start time differs from the recorded one is a recycled pid; a
// zombie has exited.
func DecideShim(o ShimObservation) ShimVerdict {
	switch {
	case o.Exit != nil:
		return ShimExited
	case o.Record == nil:
		return ShimNone
	case !o.Proc.Exists, o.Proc.State == 'Z', o.Proc.State == 'X':
		return ShimLost
	case o.Proc.Start != o.Record.ShimStart:
		return ShimLost
	default:
		return ShimAlive
	}
}
