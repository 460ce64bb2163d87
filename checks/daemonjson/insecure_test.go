package daemonjson

import (
	"strings"
	"testing"
)

// TestInsecureTCP: a TCP "hosts" entry without TLS client verification is
// what dockerd warns about (20.10 to 26, with a 16 s wait at start on a
// non-loopback address unless TLS is set explicitly) and refuses from 27
// on; the finding names the key, its line and the remedy.
func TestInsecureTCP(t *testing.T) {
	tests := []struct {
		name, data, version string
		sev                 Severity // "": no insecure-tcp finding
		starts              bool
		want                []string
	}{
		{"issue: 0.0.0.0 on 20.10", `{"hosts": ["tcp://0.0.0.0:2375"]}`, "20.10", Warn, true, []string{`key "hosts"`, "tcp://0.0.0.0:2375", "root", "16 s", "27 and newer refuse"}},
		{"no scheme is tcp", `{"hosts": ["0.0.0.0:2375"]}`, "24.0", Warn, true, []string{"16 s"}},
		{"empty port", `{"hosts": ["tcp://:2375"]}`, "26.1", Warn, true, []string{"16 s"}},
		{"explicit tls false: no wait", `{"hosts": ["tcp://0.0.0.0:2375"], "tls": false}`, "20.10", Warn, true, []string{"27 and newer refuse"}},
		{"tls without verify still waits", `{"hosts": ["tcp://10.0.0.1:2376"], "tls": true, "tlscert": "/c", "tlskey": "/k"}`, "20.10", Warn, true, []string{"16 s"}},
		{"loopback", `{"hosts": ["tcp://127.0.0.1:2375"]}`, "20.10", Warn, true, []string{"local user"}},
		{"localhost", `{"hosts": ["tcp://localhost:2375"]}`, "28.0", Warn, true, []string{"local user"}},
		{"ipv6 loopback", `{"hosts": ["tcp://[::1]:2375"]}`, "27.0", Warn, true, []string{"local user"}},
		{"27 refuses", `{"hosts": ["tcp://0.0.0.0:2375"]}`, "27.0", Fail, false, []string{"27 and newer require TLS verification", "tlsverify"}},
		{"27 refuses the opt-out too", `{"hosts": ["tcp://0.0.0.0:2375"], "tls": false}`, "28.5", Fail, false, []string{"no longer opts out"}},
		{"tlsverify", `{"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": true, "tlscacert": "/ca", "tlscert": "/c", "tlskey": "/k"}`, "28.5", "", true, nil},
		{"unix only", `{"hosts": ["unix:///run/docker.sock", "fd://"]}`, "28.5", "", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Validate([]byte(tt.data), Options{File: "daemon.json", DockerVersion: tt.version})
			var got *Finding
			for i, f := range r.Findings {
				if f.ID == IDInsecureTCP {
					got = &r.Findings[i]
				}
			}
			if r.Starts() != tt.starts {
				t.Errorf("Starts() = %v, want %v; findings %+v", r.Starts(), tt.starts, r.Findings)
			}
			if tt.sev == "" {
				if got != nil {
					t.Fatalf("unexpected finding %+v", got)
				}
				return
			}
			if got == nil || got.Severity != tt.sev {
				t.Fatalf("finding %+v, want a %s %s; all: %+v", got, tt.sev, IDInsecureTCP, r.Findings)
			}
			if got.Key != "hosts" || got.Line != 1 || !strings.Contains(got.Remedy, `"tlsverify": true`) {
				t.Errorf("finding %+v: want key hosts at line 1 and a remedy naming tlsverify", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Message+" "+got.Remedy, w) {
					t.Errorf("finding %q does not mention %q", got.Message, w)
				}
			}
		})
	}
}
