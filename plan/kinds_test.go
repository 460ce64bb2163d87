package plan

import (
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	tests := []struct {
		kind         string
		exec         string
		version      string
		selfValidate bool
		dockerRules  bool
		canary       string
	}{
		{Docker, "/usr/sbin/dockerd", "20.10.24+dfsg1", false, true, ""},
		{Docker, "/usr/bin/dockerd", "23.0.1", true, true, ""},
		{Docker, "/usr/bin/dockerd", "26.1.5+dfsg1", true, true, ""},
		{Liveswapd, "/usr/local/bin/liveswapd", "1.0.0", true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.version, func(t *testing.T) {
			k, err := KindOf(tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if got := KindOfExec(tt.exec); got != tt.kind {
				t.Errorf("KindOfExec(%s) = %q", tt.exec, got)
			}
			if got := k.Config.Validated(tt.version); got != tt.selfValidate {
				t.Errorf("Validated(%s) = %v", tt.version, got)
			}
			if k.Config.DockerRules != tt.dockerRules {
				t.Errorf("DockerRules = %v", k.Config.DockerRules)
			}
			// A plan of the kind with nothing but a binary is valid once defaulted.
			p := &Plan{Target: Target{Kind: tt.kind}, Binaries: []Binary{{Path: k.Binary, NewFile: "/new", SHA256: strings.Repeat("0", 64)}}}
			p.Default()
			if err := p.Validate(); err != nil {
				t.Fatalf("defaulted plan: %v", err)
			}
			if p.Target.Unit != k.Defaults.Unit || p.Canary.Image != tt.canary {
				t.Errorf("defaults: unit %q canary %q", p.Target.Unit, p.Canary.Image)
			}
		})
	}
	if _, err := KindOf("podman"); err == nil || !strings.Contains(err.Error(), "docker or liveswapd") {
		t.Errorf("unknown kind: %v", err)
	}
	if KindOfExec("/usr/bin/containerd") != "" {
		t.Error("containerd is not a target kind")
	}
}
