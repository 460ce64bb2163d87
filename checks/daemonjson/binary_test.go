package daemonjson

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fakeDockerd writes a script that answers like a dockerd of the given
// version; with --validate it accepts files that do not contain "bad".
func fakeDockerd(t *testing.T, version, help string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dockerd")
	script := `#!/bin/sh
case "$1" in
--version) echo "Docker version ` + version + `, build x"; exit 0;;
--help) echo "` + help + `"; exit 0;;
--validate)
  if grep -q bad "$3"; then echo 'unable to configure the Docker daemon with file '"$3"': bad key' >&2; exit 1; fi
  echo "configuration OK"; exit 0;;
esac
exit 3
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateWithBinary(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(good, []byte(`{}`), 0o600)
	os.WriteFile(bad, []byte(`{"bad": 1}`), 0o600)
	tests := []struct {
		name, version, help, file string
		supported, ok             bool
		sev                       Severity
	}{
		{"20.10 without the flag", "20.10.24", "Usage: dockerd", good, false, false, OK},
		{"24 accepts", "24.0.7", "", good, true, true, OK},
		{"24 refuses", "24.0.7", "", bad, true, false, Fail},
		{"odd version with flag in help", "dev", "      --validate   Validate daemon configuration and exit", bad, true, false, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := fakeDockerd(t, tt.version, tt.help)
			res, err := ValidateWithBinary(context.Background(), bin, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if res.Supported != tt.supported || res.OK != tt.ok || res.Finding().Severity != tt.sev {
				t.Errorf("got %+v finding %+v", res, res.Finding())
			}
		})
	}
	if _, err := ValidateWithBinary(context.Background(), "/nonexistent/dockerd", good); err == nil {
		t.Error("no error for a missing binary")
	}
}
