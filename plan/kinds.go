package plan

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Target kinds.
const (
	Docker    = "docker"
	Liveswapd = "liveswapd"
)

// KindSpec is one kind of target daemon: everything liveswap treats
// differently between daemons is a field here, so the orchestrator, the
// checks and discovery never branch on a kind's name. Adding a kind is one
// entry in kinds (and its tests).
type KindSpec struct {
	Name string
	// Defaults fill a plan's target: unit, systemd manager, endpoint and
	// daemon.json path.
	Defaults Target
	// Binary is the daemon binary when the unit cannot say.
	Binary string
	// ExecNames are base names of the unit's ExecStart binary that mark
	// this kind when discovery is not told the kind.
	ExecNames []string
	// VersionArgs make the binary print its version (e.g. --version).
	VersionArgs []string
	// Config says how the daemon's configuration file is judged.
	Config ConfigRules
	// ScopedContainers: the daemon moves each container into its own
	// systemd scope, so a unit with KillMode=control-group is safe once
	// every container is found outside the unit's cgroup.
	ScopedContainers bool
	// LogPipes: while the daemon is down, containers' output goes into a
	// pipe nobody drains, and a container that fills it blocks.
	LogPipes bool
	// Swarm: the daemon can be a swarm node (live restore is refused then).
	Swarm bool
	// Canary is the default canary; an empty image leaves it to the plan.
	Canary Canary
	// Versions is the daemon's documented upgrade path.
	Versions VersionRules
	// Component is the daemon's entry among the stack's components.
	Component string
}

// VersionRules are what a daemon's project documents about upgrading its
// running instances: version.policy passes what they support and names the
// source when it refuses the rest.
type VersionRules struct {
	// MinorStep: one minor release at a time is supported, as patch steps
	// always are.
	MinorStep bool
	// Source cites where the path is documented.
	Source string
	// MajorNote is shown when --allow-major admits a major jump: what the
	// project documents beside what was measured.
	MajorNote string
}

// ConfigRules say who judges a daemon's configuration file.
type ConfigRules struct {
	// DockerRules: Docker's daemon.json rules of the daemon's release
	// (checks/daemonjson) judge the file.
	DockerRules bool
	// SelfValidate reports whether the binary of a release judges a file
	// itself with `BINARY --validate --config-file FILE` (exit 0 or 1).
	SelfValidate func(version string) bool
}

// Validated says whether the binary of version can judge its own file.
func (c ConfigRules) Validated(version string) bool {
	return c.SelfValidate != nil && c.SelfValidate(version)
}

var kinds = map[string]*KindSpec{
	Docker: {
		Name:        Docker,
		Component:   "dockerd",
		Defaults:    Target{Unit: "docker.service", Systemd: "system", Endpoint: "unix:///var/run/docker.sock", DaemonConfig: "/etc/docker/daemon.json"},
		Binary:      "/usr/sbin/dockerd",
		ExecNames:   []string{"dockerd"},
		VersionArgs: []string{"--version"},
		// dockerd has --validate from 23.0 on.
		Config:   ConfigRules{DockerRules: true, SelfValidate: func(v string) bool { return majorOf(v) >= 23 }},
		LogPipes: true,
		Swarm:    true,
		Versions: VersionRules{
			Source: "Docker's live-restore documentation: live restore is supported across patch releases; skipping releases may leave containers running but unmanaged",
			MajorNote: "Docker documents live restore across patch releases only. Measured on real Debian builds " +
				"(20.10.24 -> 26.1.5 and back to 20.10.24, live restore on): every container kept its process and " +
				"the new daemon managed it (exec, logs, stats). Test the jump on a similar host first.",
		},
	},
	Liveswapd: {
		Name:             Liveswapd,
		Component:        "liveswapd",
		Defaults:         Target{Unit: "liveswapd.service", Systemd: "system", Endpoint: "unix:///run/liveswapd.sock", DaemonConfig: "/etc/liveswap/daemon.json"},
		Binary:           "/usr/local/bin/liveswapd",
		ExecNames:        []string{"liveswapd"},
		VersionArgs:      []string{"--version"},
		Config:           ConfigRules{SelfValidate: func(string) bool { return true }},
		ScopedContainers: true,
		// No default canary: image "host" runs only where liveswapd's
		// allow-host-image opt-in is on, so `liveswap plan` takes the image
		// of a running container (or --canary-image), as for dockerd.
		Versions: VersionRules{Source: "liveswapd keeps its shim protocol across patch releases"},
	},
}

// KindOf returns the spec of kind; an unknown kind is an error naming the
// known ones.
func KindOf(kind string) (*KindSpec, error) {
	if k, ok := kinds[kind]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%q is not a target kind (use %s)", kind, strings.Join(KindNames(), " or "))
}

// MustKind is KindOf for a plan that passed Validate.
func MustKind(kind string) *KindSpec {
	k, err := KindOf(kind)
	if err != nil {
		panic(err)
	}
	return k
}

// Spec is the kind of the plan's target (the plan was validated).
func (p *Plan) Spec() *KindSpec { return MustKind(p.Target.Kind) }

// KindNames lists the known kinds, sorted.
func KindNames() []string {
	out := make([]string, 0, len(kinds))
	for name := range kinds {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// KindOfExec names the kind whose daemon binary is path, "" when none.
func KindOfExec(path string) string {
	base := filepath.Base(path)
	for _, name := range KindNames() {
		if slices.Contains(kinds[name].ExecNames, base) {
			return name
		}
	}
	return ""
}

// defaults fills what p left out from the kind's defaults.
func (k *KindSpec) defaults(p *Plan) {
	def(&p.Target.Unit, k.Defaults.Unit)
	def(&p.Target.Systemd, k.Defaults.Systemd)
	def(&p.Target.Endpoint, k.Defaults.Endpoint)
	def(&p.Target.DaemonConfig, k.Defaults.DaemonConfig)
	if p.Canary.Image == "" && !p.Canary.Skip {
		p.Canary.Image = k.Canary.Image
		if len(p.Canary.Command) == 0 {
			p.Canary.Command = k.Canary.Command
		}
	}
}

// majorOf is the leading number of a version (23 for 23.0.1), 0 when it
// has none.
func majorOf(v string) int {
	n := 0
	for _, c := range strings.TrimPrefix(v, "v") {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// defaultInterval is a workload probe's interval when the plan leaves it out.
const defaultInterval = 20 * time.Millisecond
