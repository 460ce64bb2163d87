package systemd

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"DOCKER_OPTS": "--log-level debug  --mtu=1400", "ONE": "a b", "EMPTY": ""}
	tests := []struct {
		name string
		argv []string
		want []string
	}{
		{"Debian's docker.service with DOCKER_OPTS unset", []string{"/usr/sbin/dockerd", "-H", "fd://", "$UNSET"}, []string{"/usr/sbin/dockerd", "-H", "fd://"}},
		{"a whole-word $VAR splits", []string{"/d", "$DOCKER_OPTS"}, []string{"/d", "--log-level", "debug", "--mtu=1400"}},
		{"an empty $VAR is no word", []string{"/d", "$EMPTY", "x"}, []string{"/d", "x"}},
		{"${VAR} is one word", []string{"/d", "--x=${ONE}", "${ONE}"}, []string{"/d", "--x=a b", "a b"}},
		{"$$ is a dollar", []string{"/d", "$$HOME", "a$$b"}, []string{"/d", "$HOME", "a$b"}},
		{"$VAR inside a word stays", []string{"/d", "--x=$ONE"}, []string{"/d", "--x=$ONE"}},
		{"the binary is never split", []string{"$ONE"}, []string{"$ONE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.argv, env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Expand(%q) = %q, want %q", tt.argv, got, tt.want)
			}
		})
	}
}

func TestEnviron(t *testing.T) {
	dir := t.TempDir()
	debian := filepath.Join(dir, "docker")
	os.WriteFile(debian, []byte("# Docker Upstart and SysVinit configuration file\n#DOCKER_OPTS=\"--dns 8.8.8.8\"\n"), 0o644)
	set := filepath.Join(dir, "set")
	os.WriteFile(set, []byte("DOCKER_OPTS=\"--mtu 1400\"\nA=1 \\\n2\n; comment\nB='x'\n"), 0o644)
	tests := []struct {
		name  string
		env   []string
		files []EnvFile
		want  map[string]string
	}{
		{"Debian's /etc/default/docker sets nothing", nil, []EnvFile{{debian, true}}, map[string]string{}},
		{"quotes, continuations, comments", nil, []EnvFile{{set, false}}, map[string]string{"DOCKER_OPTS": "--mtu 1400", "A": "1 2", "B": "x"}},
		{"Environment= wins; a missing optional file is skipped", []string{"B=y"}, []EnvFile{{filepath.Join(dir, "none"), true}, {set, false}},
			map[string]string{"DOCKER_OPTS": "--mtu 1400", "A": "1 2", "B": "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Environ(tt.env, tt.files); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Environ = %q, want %q", got, tt.want)
			}
		})
	}
}
