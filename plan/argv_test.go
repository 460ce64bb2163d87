package plan

import (
	"strings"
	"testing"
)

func TestFlagValues(t *testing.T) {
	argv := []string{"/usr/bin/dockerd", "-H", "fd://", "--host=unix:///a", "-Hunix:///b", "-H=unix:///c", "--host", "unix:///d", "--hosts", "x"}
	got := strings.Join(FlagValues(argv, "--host", "-H"), " ")
	if want := "fd:// unix:///a unix:///b unix:///c unix:///d"; got != want {
		t.Errorf("flagValues = %q, want %q", got, want)
	}
}
