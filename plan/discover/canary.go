package discover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/plan"
)

// CanaryShell is the shell a discovered canary image must have; the canary
// runs `CanaryShell -c true` (true is a shell builtin, so nothing else is
// needed in the image).
const CanaryShell = "/bin/sh"

// CanaryCommand is the harmless command of a discovered canary.
var CanaryCommand = []string{CanaryShell, "-c", "true"}

// ContainerSource is what canary discovery asks of the daemon;
// engine.Engine is one.
type ContainerSource interface {
	Running(ctx context.Context) ([]container.Summary, error)
	Inspect(ctx context.Context, id string) (container.InspectResponse, error)
	ImageID(ctx context.Context, ref string) (string, error)
}

// CanaryChoice is the canary discovery proposes, and why.
type CanaryChoice struct {
	Canary plan.Canary // Image empty: none found
	// From is the running container whose image it is.
	From string
	// Why says how it was chosen, or why there is none.
	Why string
}

// Canary picks a canary image that is on the host and can run a command:
// the image of a running container whose root filesystem has an executable
// /bin/sh, as the container sees it (read through /proc/PID/root, its
// symlinks resolved inside that root). Containers are tried in name order;
// the image is named as the container was started when that name still
// means the same image, else by its ID. rootOf gives a container's root
// filesystem for its PID (nil: /proc/PID/root).
func Canary(ctx context.Context, c ContainerSource, rootOf func(pid int) string) (CanaryChoice, error) {
	if rootOf == nil {
		rootOf = func(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/root" }
	}
	list, err := c.Running(ctx)
	if err != nil {
		return CanaryChoice{}, err
	}
	var cands []canaryCandidate
	for _, sum := range list {
		in, err := c.Inspect(ctx, sum.ID)
		if err != nil || in.State == nil || !in.State.Running || in.State.Pid == 0 || in.Image == "" {
			continue
		}
		cand := canaryCandidate{name: strings.TrimPrefix(in.Name, "/"), imageID: in.Image}
		if in.Config != nil {
			cand.ref = in.Config.Image
		}
		cand.shell = hasExecutable(rootOf(in.State.Pid), CanaryShell)
		cands = append(cands, cand)
	}
	best, ok := chooseCanary(cands)
	if !ok {
		why := "no running container"
		if len(cands) > 0 {
			why = fmt.Sprintf("none of the %d running containers has %s", len(cands), CanaryShell)
		}
		return CanaryChoice{Why: why}, nil
	}
	image := best.imageID
	if best.ref != "" {
		if id, err := c.ImageID(ctx, best.ref); err == nil && id == best.imageID {
			image = best.ref
		}
	}
	return CanaryChoice{Canary: plan.Canary{Image: image, Command: CanaryCommand}, From: best.name,
		Why: fmt.Sprintf("the image of running container %s, which has %s", best.name, CanaryShell)}, nil
}

// canaryCandidate is a running container as canary discovery sees it.
type canaryCandidate struct {
	name    string // container name
	ref     string // the image as the container was started (local/base:1)
	imageID string // sha256:...
	shell   bool   // its root filesystem has an executable /bin/sh
}

// chooseCanary takes the first container, by name, whose filesystem has
// the shell: a stable choice, so planning twice writes the same plan.
func chooseCanary(cands []canaryCandidate) (canaryCandidate, bool) {
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].name < cands[j].name })
	for _, c := range cands {
		if c.shell {
			return c, true
		}
	}
	return canaryCandidate{}, false
}

// hasExecutable reports whether name, resolved inside root as a process
// whose root is root would resolve it, is a regular file with an execute
// bit.
func hasExecutable(root, name string) bool {
	p, err := resolveIn(root, name)
	if err != nil {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// maxLinks is how many symlinks resolveIn follows, as the kernel's limit.
const maxLinks = 40

// resolveIn resolves name inside root and returns the host path of the
// result. Symlinks are followed one component at a time, an absolute
// target from root and ".." never above it: a container's /bin/sh ->
// /bin/busybox must not be looked up on the host, which opening
// /proc/PID/root/bin/sh would do.
func resolveIn(root, name string) (string, error) {
	rest := strings.Split(name, "/")
	cur := "/" // resolved so far, inside root
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		host := filepath.Join(root, next)
		st, err := os.Lstat(host)
		if err != nil {
			return "", err
		}
		if st.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", errors.New(name + ": too many levels of symbolic links")
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, cur), nil
}
