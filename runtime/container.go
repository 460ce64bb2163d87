package runtime

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/runtime/errdefs"
)

// Error categories, mapped to HTTP status codes by the API: runtime/errdefs'
// values (the OCI bundle's refusals wrap the same ones).
var (
	ErrNotFound       = errdefs.ErrNotFound
	ErrConflict       = errdefs.ErrConflict
	ErrInvalid        = errdefs.ErrInvalid
	ErrNotModified    = errdefs.ErrNotModified
	ErrUnsupported    = errdefs.ErrUnsupported
	ErrNotImplemented = errdefs.ErrNotImplemented
	ErrTooLarge       = errdefs.ErrTooLarge
	ErrTimeout        = errdefs.ErrTimeout
	// ErrShuttingDown: the daemon is stopping and starts nothing new (503).
	ErrShuttingDown = errors.New("liveswapd is shutting down")
)

// Container statuses, as the Engine API names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusRemoving   = "removing"
)

// ContainerSpec is data-root/containers/ID/config.json: what the client
// asked for at create time. It does not change afterwards.
type ContainerSpec struct {
	Version    int                   `json:"version"`
	ID         string                `json:"id"`
	Name       string                `json:"name"` // without the leading slash
	Created    time.Time             `json:"created"`
	Image      string                `json:"image"`
	ImageID    string                `json:"imageId,omitempty"` // a stored image's ID; Root is then the container's own root
	Root       string                `json:"root,omitempty"`    // chroot folder; "" = host filesystem
	Path       string                `json:"path"`
	Args       []string              `json:"args"`
	Config     *container.Config     `json:"config"`
	HostConfig *container.HostConfig `json:"hostConfig"`
}

// ContainerState is data-root/containers/ID/state.json: the daemon's view
// of the last run. On restore the run folder (written by the shim) is the
// truth and this file is corrected from it.
type ContainerState struct {
	Status          string    `json:"status"`
	Pid             int       `json:"pid,omitempty"`
	PidStart        uint64    `json:"pidStart,omitempty"`
	ShimPid         int       `json:"shimPid,omitempty"`
	ShimStart       uint64    `json:"shimStart,omitempty"`
	ExitCode        int       `json:"exitCode"`
	OOMKilled       bool      `json:"oomKilled,omitempty"`
	Error           string    `json:"error,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
	RestartCount    int       `json:"restartCount"`
	ManuallyStopped bool      `json:"manuallyStopped,omitempty"`
	// Health is the healthcheck's state of the current (or last) run.
	Health *container.Health `json:"health,omitempty"`
}

// Container is one container known to the daemon.
type Container struct {
	// op serialises lifecycle operations (start, stop, kill, remove).
	op sync.Mutex

	mu      sync.Mutex
	spec    ContainerSpec
	st      ContainerState
	dataDir string
	runDir  string
	gen     int           // incremented per shim start; stale exit watchers compare it
	changed chan struct{} // closed and replaced on every state change
	exited  chan struct{} // closed when the current run ends; nil when not running
	removed bool
	backoff time.Duration
	timer   *time.Timer // pending policy restart
}

func newContainer(spec ContainerSpec, st ContainerState, dataDir, runDir string) *Container {
	return &Container{spec: spec, st: st, dataDir: dataDir, runDir: runDir, changed: make(chan struct{})}
}

// ID returns the container's full ID.
func (c *Container) ID() string { return c.spec.ID }

// Gen is the number of the container's current run: it grows with each
// start of a shim.
func (c *Container) Gen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Snapshot returns copies of spec and state.
func (c *Container) Snapshot() (ContainerSpec, ContainerState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spec, c.st
}

// notifyLocked wakes every waiter; c.mu must be held.
func (c *Container) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// saveLocked writes state.json; c.mu must be held.
func (c *Container) saveLocked() error {
	if c.removed {
		return nil
	}
	return atomicfile.WriteJSON(filepath.Join(c.dataDir, "state.json"), c.st, 0o600)
}

// LogPath is the container's json-file log.
func (c *Container) LogPath() string {
	return filepath.Join(c.dataDir, c.spec.ID+"-json.log")
}

// resolveUser turns Config.User ("uid[:gid]" or names) into ids, reading
// passwd and group files inside the container's root.
func resolveUser(root, user string) (uid, gid uint32, err error) {
	if user == "" {
		return uint32(os.Getuid()), uint32(os.Getgid()), nil
	}
	if root == "" {
		root = "/"
	}
	name, group, hasGroup := strings.Cut(user, ":")
	if n, perr := strconv.ParseUint(name, 10, 32); perr == nil {
		uid, gid = uint32(n), uint32(n)
		if e, ok := lookupDB(filepath.Join(root, "etc/passwd"), name, 2); ok {
			if g, gerr := strconv.ParseUint(e[3], 10, 32); gerr == nil {
				gid = uint32(g)
			}
		}
	} else {
		e, ok := lookupDB(filepath.Join(root, "etc/passwd"), name, 0)
		if !ok {
			return 0, 0, fmt.Errorf("unable to find user %s: no matching entries in passwd file: %w", name, ErrInvalid)
		}
		u, _ := strconv.ParseUint(e[2], 10, 32)
		g, _ := strconv.ParseUint(e[3], 10, 32)
		uid, gid = uint32(u), uint32(g)
	}
	if hasGroup {
		if n, perr := strconv.ParseUint(group, 10, 32); perr == nil {
			gid = uint32(n)
		} else {
			e, ok := lookupDB(filepath.Join(root, "etc/group"), group, 0)
			if !ok {
				return 0, 0, fmt.Errorf("unable to find group %s: no matching entries in group file: %w", group, ErrInvalid)
			}
			g, _ := strconv.ParseUint(e[2], 10, 32)
			gid = uint32(g)
		}
	}
	return uid, gid, nil
}

// lookupDB finds the colon-separated line of a passwd/group file whose
// field col equals key.
func lookupDB(path, key string, col int) ([]string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 4 && f[col] == key {
			return f, true
		}
	}
	return nil, false
}

// merged is a new map of base's entries with over's on top (a container's
// own labels and log options win over the image's and the daemon's).
func merged(base, over map[string]string) map[string]string {
	m := make(map[string]string, len(base)+len(over))
	maps.Copy(m, base)
	maps.Copy(m, over)
	return m
}
