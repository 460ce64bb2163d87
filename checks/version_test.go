package checks

import (
	"strings"
	"testing"
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
	tests := []struct {
		name                       string
		from, to                   string
		allowMinor, allowDowngrade bool
		want                       Status
		msg                        string // substring of the message
	}{
		{"patch upgrade", "20.10.24+dfsg1", "20.10.25", false, false, OK, "patch upgrade"},
		{"patch upgrade semver", "24.0.7", "24.0.9", false, false, OK, "patch upgrade"},
		{"liveswapd patch", "1.0.0", "1.0.1", false, false, OK, "patch upgrade"},
		{"same version", "20.10.24+dfsg1", "20.10.24+dfsg1", false, false, OK, "re-install"},
		{"same release other build", "20.10.24+dfsg1", "20.10.24", false, false, OK, "re-install"},
		{"rc to release", "25.0.0-rc.1", "25.0.0", false, false, OK, "patch upgrade"},
		{"minor jump", "20.10.24+dfsg1", "20.11.0", false, false, Fail, "minor upgrade"},
		{"minor jump allowed", "20.10.24+dfsg1", "20.11.0", true, false, Warn, "--allow-minor"},
		{"major jump", "20.10.24+dfsg1", "23.0.0", false, false, Fail, "major upgrade"},
		{"major jump allowed", "20.10.24", "24.0.9", true, false, Warn, "major upgrade"},
		{"liveswapd minor", "1.2.3", "1.3.0", false, false, Fail, "minor upgrade"},
		{"patch downgrade", "24.0.9", "24.0.7", false, false, Fail, "downgrade"},
		{"patch downgrade allowed", "24.0.9", "24.0.7", false, true, Warn, "--allow-downgrade"},
		{"minor downgrade needs both", "24.1.0", "24.0.7", false, true, Fail, "older release"},
		{"minor downgrade allowed", "24.1.0", "24.0.7", true, true, Warn, "--allow-minor"},
		{"minor downgrade allowMinor only", "24.1.0", "24.0.7", true, false, Fail, "downgrade"},
		{"downgrade to rc", "25.0.0", "25.0.0-rc.1", false, false, Fail, "downgrade"},
		{"unparsable running", "dev", "1.0.0", true, true, Fail, "running version"},
		{"unparsable new", "1.0.0", "dev", true, true, Fail, "new version"},
		{"empty running", "", "1.0.0", false, false, Fail, "running version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := VersionPolicy(tt.from, tt.to, tt.allowMinor, tt.allowDowngrade)
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("VersionPolicy(%s, %s, minor=%v, down=%v) = %s %q, want %s with %q",
					tt.from, tt.to, tt.allowMinor, tt.allowDowngrade, r.Status, r.Message, tt.want, tt.msg)
			}
			if r.Status == Fail && r.Remedy == "" {
				t.Errorf("failure without a remedy: %q", r.Message)
			}
		})
	}
}
