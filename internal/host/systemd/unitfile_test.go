package systemd_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/internal/host/systemd"
)

func TestReadExecStart(t *testing.T) {
	tests := []struct {
		name    string
		unit    string
		want    []string
		wantErr string
	}{
		{"last ExecStart after a reset, continued, prefixed and quoted", `[Service]
# comment
ExecStart=/usr/bin/old
ExecStart=
ExecStart=-/usr/bin/dockerd -H fd:// \
    --label "env=prod a" --log-opt=max-size=10m
`, []string{"/usr/bin/dockerd", "-H", "fd://", "--label", "env=prod a", "--log-opt=max-size=10m"}, ""},
		{"single quotes and escapes", "[Service]\nExecStart=/bin/d --a 'x y' b\\ c\n", []string{"/bin/d", "--a", "x y", "b c"}, ""},
		{"commented out", "[Service]\n;ExecStart=/bin/a\n#ExecStart=/bin/b\n", nil, "no ExecStart"},
		{"reset last", "[Service]\nExecStart=/bin/a\nExecStart=\n", nil, "no ExecStart"},
		{"unterminated quote", "[Service]\nExecStart=/bin/a \"b\n", nil, "unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "u.service")
			os.WriteFile(path, []byte(tt.unit), 0o644)
			got, err := systemd.ReadExecStart(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s with %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := systemd.ReadExecStart(filepath.Join(t.TempDir(), "missing.service")); err == nil {
		t.Error("a missing unit file was read")
	}
}

func TestUnitCommand(t *testing.T) {
	tests := []struct {
		name    string
		unit    systemd.Unit
		want    []string
		wantErr string
	}{
		{"first ExecStart", systemd.Unit{Name: "d.service", LoadState: "loaded",
			ExecStart: []systemd.Exec{{Path: "/bin/d", Argv: []string{"/bin/d", "-D"}}}}, []string{"/bin/d", "-D"}, ""},
		{"not loaded", systemd.Unit{Name: "x.service", LoadState: "not-found"}, nil, "x.service is not-found"},
		{"loaded without ExecStart", systemd.Unit{Name: "o.service", LoadState: "loaded"}, nil, "o.service has no ExecStart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.unit.Command()
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadSettings(t *testing.T) {
	tests := []struct {
		name string
		unit string
		want []systemd.Setting
	}{
		{"trimmed, in order, any section", "[Unit]\nDescription = d\n[Service]\n  KillMode=process\n", []systemd.Setting{{"Description", "d"}, {"KillMode", "process"}}},
		{"comments and section headers skipped", "# KillMode=none\n; Type=simple\n[Service]\nType=notify\n", []systemd.Setting{{"Type", "notify"}}},
		{"continuation joined", "[Service]\nExecReload=/bin/kill \\\n  -s HUP $MAINPID\n", []systemd.Setting{{"ExecReload", "/bin/kill  -s HUP $MAINPID"}}},
		{"empty value resets", "[Service]\nExecStart=\n", []systemd.Setting{{"ExecStart", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "u.conf")
			os.WriteFile(path, []byte(tt.unit), 0o644)
			got, err := systemd.ReadSettings(path)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
