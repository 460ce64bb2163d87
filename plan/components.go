package plan

import (
	"path/filepath"
	"sort"
	"strings"
)

// Components of a stack, as their version probes name them.
const (
	Dockerd    = "dockerd"
	Containerd = "containerd"
	Shim       = "containerd-shim-runc-v2"
	Runc       = "runc"
	// LiveswapdComponent is liveswapd as a component of its own stack.
	LiveswapdComponent = "liveswapd"
	// LiveswapdShim is the per-container process liveswapd runs from the
	// file beside its own (runtime/shim).
	LiveswapdShim = "liveswapd-shim"
)

// ComponentSpec is one program of a daemon's stack: how to ask a binary
// for its version, how to recognise the answer, the unit it usually runs
// in, its documented upgrade path and its place in the restart order.
// Code asks the spec, never the component's name.
type ComponentSpec struct {
	Name string
	// Binary is the file it usually is (runc and the shim have no unit
	// whose ExecStart could say).
	Binary string
	// BaseNames are the base names of its binaries.
	BaseNames []string
	// VersionArgs make a binary print its version; the shim knows -v only.
	VersionArgs []string
	// Unit is the systemd unit it usually runs in; "" for a program with no
	// daemon of its own (runc, the shim: each container's process).
	Unit string
	// Order is its place in a restart: lower first (containerd before the
	// dockerd that connects to it).
	Order int
	// BesideDaemon: its file is the one of that base name in the daemon
	// binary's folder (liveswapd runs the liveswapd-shim beside it).
	BesideDaemon bool
	// Versions is its project's documented upgrade path.
	Versions VersionRules
	// says reports whether the first line of a version probe is this
	// component's.
	says func(first string) bool
}

// Says reports whether a version probe's output is this component's.
func (c *ComponentSpec) Says(out string) bool {
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return c.says(strings.TrimSpace(first))
}

func firstWord(w string) func(string) bool {
	return func(s string) bool {
		f := strings.Fields(s)
		return len(f) > 0 && f[0] == w
	}
}

// containerdSource is what containerd documents about upgrading a running
// containerd (RELEASES.md, "Upgrade Path").
const containerdSource = "containerd's RELEASES.md, Upgrade Path: patch releases are backward compatible and a minor release is compatible with the previous one (1.6 -> 1.7); an upgrade that spans several minor releases has no compatibility guarantee: upgrade one minor release at a time"

var components = map[string]*ComponentSpec{
	Dockerd: {Name: Dockerd, Binary: "/usr/sbin/dockerd", BaseNames: []string{"dockerd"}, VersionArgs: []string{"--version"},
		Unit: "docker.service", Order: 20, Versions: kinds[Docker].Versions,
		says: func(s string) bool { return strings.HasPrefix(s, "Docker version ") }},
	Containerd: {Name: Containerd, Binary: "/usr/bin/containerd", BaseNames: []string{"containerd"}, VersionArgs: []string{"--version"},
		Unit: "containerd.service", Order: 10, Versions: VersionRules{MinorStep: true, Source: containerdSource},
		says: firstWord("containerd")},
	Shim: {Name: Shim, Binary: "/usr/bin/containerd-shim-runc-v2", BaseNames: []string{"containerd-shim-runc-v2"}, VersionArgs: []string{"-v"},
		Order: 5, Versions: VersionRules{MinorStep: true, Source: containerdSource},
		// The shim's -v names itself by the path it was run as.
		says: func(s string) bool {
			f := strings.Fields(s)
			return len(f) > 0 && filepath.Base(strings.TrimSuffix(f[0], ":")) == "containerd-shim-runc-v2"
		}},
	Runc: {Name: Runc, Binary: "/usr/sbin/runc", BaseNames: []string{"runc"}, VersionArgs: []string{"--version"},
		Order: 0, Versions: VersionRules{Source: "runc is run per container operation; patch releases keep its state format"},
		says: func(s string) bool { return strings.HasPrefix(s, "runc version ") }},
	LiveswapdComponent: {Name: LiveswapdComponent, Binary: "/usr/local/bin/liveswapd", BaseNames: []string{"liveswapd"}, VersionArgs: []string{"--version"},
		Unit: "liveswapd.service", Order: 20, Versions: kinds[Liveswapd].Versions,
		says: firstWord("liveswapd")},
	// Swapped beside liveswapd, no restart of its own: running shims keep
	// the file they started from, containers started afterwards get the
	// new one.
	LiveswapdShim: {Name: LiveswapdShim, Binary: "/usr/local/bin/liveswapd-shim", BaseNames: []string{"liveswapd-shim"}, VersionArgs: []string{"--version"},
		Order: 5, BesideDaemon: true, Versions: kinds[Liveswapd].Versions,
		says: firstWord("liveswapd-shim")},
}

// ComponentOf returns the spec of a component name, nil when unknown.
func ComponentOf(name string) *ComponentSpec { return components[name] }

// ComponentNames lists the known components, in restart order.
func ComponentNames() []string {
	out := make([]string, 0, len(components))
	for name := range components {
		out = append(out, name)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := components[out[i]], components[out[j]]
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return a.Name < b.Name
	})
	return out
}

// ComponentSaying names the component whose version probe printed out
// when run with args, "" when none.
func ComponentSaying(args []string, out string) string {
	for _, name := range ComponentNames() {
		c := components[name]
		if strings.Join(c.VersionArgs, " ") == strings.Join(args, " ") && c.Says(out) {
			return name
		}
	}
	return ""
}

// VersionArgSets are the distinct version arguments of the components, to
// try one after the other on a binary of unknown component.
func VersionArgSets() [][]string {
	var sets [][]string
	seen := map[string]bool{}
	for _, name := range ComponentNames() {
		k := strings.Join(components[name].VersionArgs, " ")
		if !seen[k] {
			seen[k] = true
			sets = append(sets, components[name].VersionArgs)
		}
	}
	sort.SliceStable(sets, func(i, j int) bool {
		return strings.Join(sets[i], " ") == "--version" && strings.Join(sets[j], " ") != "--version"
	})
	return sets
}

// ComponentOf is the component of binary b: its own field, else the one
// whose base names hold its file, else the target's daemon.
func (p *Plan) ComponentOf(b Binary) *ComponentSpec {
	if c := components[b.Component]; c != nil {
		return c
	}
	base := filepath.Base(b.Path)
	for _, name := range ComponentNames() {
		for _, n := range components[name].BaseNames {
			if n == base {
				return components[name]
			}
		}
	}
	return components[p.DaemonComponent()]
}

// UnitOf is the unit to restart so that b runs: its own unit, else none
// for a program without a daemon (runc, the shim), else the target's.
func (p *Plan) UnitOf(b Binary) string {
	if b.Unit != "" {
		return b.Unit
	}
	if p.ComponentOf(b).Unit == "" {
		return ""
	}
	return p.Target.Unit
}

// Daemon is the target daemon's own binary in the plan, nil when the plan
// leaves the daemon as it is (containerd alone).
func (p *Plan) Daemon() *Binary {
	for i := range p.Binaries {
		if p.UnitOf(p.Binaries[i]) == p.Target.Unit && p.ComponentOf(p.Binaries[i]).Name == p.DaemonComponent() {
			return &p.Binaries[i]
		}
	}
	return nil
}

// Units are the units to restart, in the stack's order: the target's last.
func (p *Plan) Units() []string {
	order := map[string]int{}
	var units []string
	for _, b := range p.Binaries {
		u := p.UnitOf(b)
		if u == "" {
			continue
		}
		o := p.ComponentOf(b).Order
		if u == p.Target.Unit {
			o = 1 << 20
		}
		if prev, ok := order[u]; !ok {
			units = append(units, u)
			order[u] = o
		} else if o < prev {
			order[u] = o
		}
	}
	sort.SliceStable(units, func(i, j int) bool { return order[units[i]] < order[units[j]] })
	return units
}

// DaemonComponent is the component the target daemon is; a plan not yet
// defaulted is a docker plan.
func (p *Plan) DaemonComponent() string {
	if k, ok := kinds[p.Target.Kind]; ok {
		return k.Component
	}
	return Dockerd
}
