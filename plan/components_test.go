package plan

import (
	"strings"
	"testing"
)

// TestComponentSaying: a binary is known by what its version probe
// prints, never by its file name.
func TestComponentSaying(t *testing.T) {
	tests := []struct {
		args []string
		out  string
		want string
	}{
		{[]string{"--version"}, "Docker version 26.1.5+dfsg1, build a72d7cd", Dockerd},
		{[]string{"--version"}, "containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+deb13u1", Containerd},
		{[]string{"-v"}, "/srv/new/containerd-shim-runc-v2:\n  Version:  1.7.24~ds1\n", Shim},
		{[]string{"-v"}, "containerd-shim-runc-v2: Version: 1.7.24~ds1 Revision: 1.7.24~ds1-6+deb13u1", Shim}, // as RunVersionArgs joins it
		{[]string{"--version"}, "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1", Runc},
		{[]string{"--version"}, "liveswapd version 1.0.2", LiveswapdComponent},
		{[]string{"--version"}, "liveswapd-shim version 1.0.2", LiveswapdShim},
		{[]string{"--version"}, "flag provided but not defined: -version", ""},
		{[]string{"-v"}, "containerd github.com/containerd/containerd 1.7.24", ""}, // not containerd's own arguments
	}
	for _, tt := range tests {
		if got := ComponentSaying(tt.args, tt.out); got != tt.want {
			t.Errorf("%v %q: %q, want %q", tt.args, tt.out, got, tt.want)
		}
	}
	if c := ComponentOf(Containerd); !c.Versions.MinorStep || c.Unit != "containerd.service" || c.Order >= ComponentOf(Dockerd).Order {
		t.Errorf("containerd: %+v", c)
	}
	if ComponentOf(Runc).Unit != "" || ComponentOf(Shim).VersionArgs[0] != "-v" {
		t.Error("runc has no unit; the shim answers -v")
	}
	if c := ComponentOf(LiveswapdShim); c.Unit != "" || !c.BesideDaemon || c.Order >= ComponentOf(LiveswapdComponent).Order {
		t.Errorf("liveswapd-shim: no unit, beside liveswapd, swapped before it: %+v", c)
	}
}

func TestValidateComponentAndUnit(t *testing.T) {
	p := &Plan{Binaries: []Binary{
		{Path: "/usr/sbin/runc", NewFile: "/n/runc", Component: Runc, Unit: "runc.service"},
		{Path: "/usr/bin/containerd", NewFile: "/n/c", Component: "containerdd"},
		{Path: "/usr/bin/ctr", NewFile: "/n/ctr", Unit: "ctr"},
	}}
	p.Policy.InsecureSkipChecksum = true
	p.Default()
	err := p.Validate()
	for _, want := range []string{"binaries[0].unit: runc runs in no unit", `binaries[1].component: "containerdd" is not a component`, `binaries[2].unit: "ctr" is not a service unit`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v lacks %q", err, want)
		}
	}
}

// TestKindComponent: every kind's daemon is one of the stack's components.
func TestKindComponent(t *testing.T) {
	for _, name := range KindNames() {
		if c := ComponentOf(MustKind(name).Component); c == nil || c.Unit != MustKind(name).Defaults.Unit {
			t.Errorf("kind %s: component %q is not a component running in %s", name, MustKind(name).Component, MustKind(name).Defaults.Unit)
		}
	}
}
