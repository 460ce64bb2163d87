package checks

import (
	"strings"
	"testing"

	"github.com/liveswap/liveswap/plan"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"20.10.24+dfsg1", "20.10.24+dfsg1", false},
		{"24.0.9", "24.0.9", false},
		{"v1.2.3", "1.2.3", false},
		{"25.0.0-rc.1", "25.0.0-rc.1", false},
		{"1.6.20~ds1", "1.6.20-ds1", false},
		{"24.0", "24.0.0", false},
		{"0.1.0-3-gabcdef-dirty", "0.1.0-3-gabcdef-dirty", false},
		{"dev", "", true},
		{"", "", true},
		{"20", "", true},
		{"20.10.24 extra", "", true},
	}
	for _, tt := range tests {
		v, err := ParseVersion(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseVersion(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && v.String() != tt.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tt.in, v, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"20.10.24", "20.10.24+dfsg1", 0},
		{"20.10.24", "20.10.25", -1},
		{"20.10.24", "23.0.0", -1},
		{"24.0.9", "24.0.7", 1},
		{"25.0.0-rc.1", "25.0.0", -1},
		{"25.0.0-rc.2", "25.0.0-rc.10", -1},
		{"25.0.0-beta.1", "25.0.0-rc.1", -1},
		{"1.0.0-1", "1.0.0-alpha", -1},
		{"1.0.0-rc", "1.0.0-rc.1", -1},
	}
	for _, tt := range tests {
		a, _ := ParseVersion(tt.a)
		b, _ := ParseVersion(tt.b)
		if got := a.Compare(b); got != tt.want {
			t.Errorf("%s vs %s = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Compare(a); got != -tt.want {
			t.Errorf("%s vs %s = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestExtractVersion(t *testing.T) {
	tests := []struct{ out, want string }{
		{"Docker version 20.10.24+dfsg1, build 297e128", "20.10.24+dfsg1"},
		{"Docker version 24.0.9, build 2936816", "24.0.9"},
		{"Docker version 20.11.0, build x\n", "20.11.0"},
		{"liveswapd version 1.2.3", "1.2.3"},
		{"liveswapd version v1.0.1", "v1.0.1"},
		{"runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1", "1.1.5+ds1"},
		{"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1", "1.6.20~ds1"},
		{"liveswapd version dev", ""},
		{"usage: foo [flags]", ""},
	}
	for _, tt := range tests {
		if got := ExtractVersion(tt.out); got != tt.want {
			t.Errorf("ExtractVersion(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}

func TestVersionPolicy(t *testing.T) {
	docker := plan.MustKind(plan.Docker).Versions
	minorStep := plan.ComponentOf(plan.Containerd).Versions
	tests := []struct {
		name     string
		from, to string
		rules    plan.VersionRules
		allow    Allow
		want     Status
		msg      string // substring of the message
		remedy   string // substring of the remedy
	}{
		{"patch upgrade", "20.10.24+dfsg1", "20.10.25", docker, Allow{}, OK, "patch upgrade", ""},
		{"Debian 11 to 12: a patch step", "20.10.5+dfsg1", "20.10.24+dfsg1", docker, Allow{}, OK, "patch upgrade", ""},
		{"patch upgrade semver", "24.0.7", "24.0.9", docker, Allow{}, OK, "patch upgrade", ""},
		{"liveswapd patch", "1.0.0", "1.0.1", plan.MustKind(plan.Liveswapd).Versions, Allow{}, OK, "patch upgrade", ""},
		{"same version", "20.10.24+dfsg1", "20.10.24+dfsg1", docker, Allow{}, OK, "re-install", ""},
		{"same release other build", "20.10.24+dfsg1", "20.10.24", docker, Allow{}, OK, "re-install", ""},
		{"rc to release", "25.0.0-rc.1", "25.0.0", docker, Allow{}, OK, "patch upgrade", ""},
		{"minor jump", "20.10.24+dfsg1", "20.11.0", docker, Allow{}, Fail, "minor upgrade", "--allow-minor"},
		{"minor jump allowed", "20.10.24+dfsg1", "20.11.0", docker, Allow{Minor: true}, Warn, "--allow-minor", ""},
		{"major jump", "20.10.24+dfsg1", "23.0.0", docker, Allow{}, Fail, "major upgrade", "--allow-major"},
		{"major jump: --allow-minor is not enough", "20.10.24", "26.1.5", docker, Allow{Minor: true}, Fail, "major upgrade", "--allow-minor does not admit it"},
		{"Debian 12 to 13 allowed", "20.10.24+dfsg1", "26.1.5+dfsg1", docker, Allow{Major: true}, Warn, "--allow-major", ""},
		{"one minor step documented (containerd)", "1.6.20~ds1", "1.7.24~ds1", minorStep, Allow{}, OK, "one minor release", ""},
		{"a skipped minor (containerd 1.4 -> 1.6)", "1.4.13~ds1", "1.6.20~ds1", minorStep, Allow{}, Fail, "RELEASES.md", "step through 1.5"},
		{"a skipped minor allowed", "1.4.13~ds1", "1.6.20~ds1", minorStep, Allow{Minor: true}, Warn, "--allow-minor", ""},
		{"liveswapd minor", "1.2.3", "1.3.0", plan.MustKind(plan.Liveswapd).Versions, Allow{}, Fail, "minor upgrade", ""},
		{"patch downgrade", "24.0.9", "24.0.7", docker, Allow{}, Fail, "downgrade", "--allow-downgrade"},
		{"patch downgrade allowed", "24.0.9", "24.0.7", docker, Allow{Downgrade: true}, Warn, "--allow-downgrade", ""},
		{"minor downgrade needs both", "24.1.0", "24.0.7", docker, Allow{Downgrade: true}, Fail, "older minor release", "--allow-minor"},
		{"minor downgrade allowed", "24.1.0", "24.0.7", docker, Allow{Minor: true, Downgrade: true}, Warn, "--allow-minor", ""},
		{"minor downgrade allowMinor only", "24.1.0", "24.0.7", docker, Allow{Minor: true}, Fail, "downgrade", "--allow-downgrade"},
		{"Debian 13 back to 12 allowed", "26.1.5+dfsg1", "20.10.24+dfsg1", docker, Allow{Major: true, Downgrade: true}, Warn, "--allow-downgrade --allow-major", ""},
		{"major downgrade needs --allow-major", "26.1.5", "20.10.24", docker, Allow{Minor: true, Downgrade: true}, Fail, "older major release", "--allow-major"},
		{"downgrade to rc", "25.0.0", "25.0.0-rc.1", docker, Allow{}, Fail, "downgrade", ""},
		{"unparsable running", "dev", "1.0.0", docker, Allow{true, true, true}, Fail, "running version", ""},
		{"unparsable new", "1.0.0", "dev", docker, Allow{true, true, true}, Fail, "new version", ""},
		{"empty running", "", "1.0.0", docker, Allow{}, Fail, "running version", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := VersionPolicy(tt.from, tt.to, tt.rules, tt.allow)
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) || !strings.Contains(r.Remedy, tt.remedy) {
				t.Errorf("VersionPolicy(%s, %s, %+v) = %s %q (remedy %q), want %s with %q (remedy %q)",
					tt.from, tt.to, tt.allow, r.Status, r.Message, r.Remedy, tt.want, tt.msg, tt.remedy)
			}
			if r.Status == Fail && r.Remedy == "" {
				t.Errorf("failure without a remedy: %q", r.Message)
			}
			if tt.allow.Major && r.Status == Warn && strings.Contains(r.Message, "major") && len(r.Details) == 0 {
				t.Errorf("a major jump admitted without the note: %q", r.Message)
			}
		})
	}
}

// TestJoinVerdicts: a stack's version.policy is its worst component's
// verdict, with every component's message.
func TestJoinVerdicts(t *testing.T) {
	r := joinVerdicts([]Result{ok("dockerd patch upgrade"), fail("step through 1.5", "containerd minor upgrade"), warn("", "runc allowed")})
	if r.Status != Fail || r.Message != "dockerd patch upgrade; containerd minor upgrade; runc allowed" || r.Remedy != "step through 1.5" {
		t.Errorf("%+v", r)
	}
}
