package engine_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveswap/liveswap/internal/host/engine"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		want    engine.Endpoint
		wantErr bool
	}{
		{"unix:///var/run/docker.sock", engine.Endpoint{Scheme: "unix", Address: "/var/run/docker.sock"}, false},
		{"tcp://127.0.0.1:2375", engine.Endpoint{Scheme: "tcp", Address: "127.0.0.1:2375"}, false},
		{"tcp://[::1]:2376", engine.Endpoint{Scheme: "tcp", Address: "[::1]:2376"}, false},
		{"", engine.Endpoint{}, true},
		{"/var/run/docker.sock", engine.Endpoint{}, true},
		{"unix://", engine.Endpoint{}, true},
		{"unix:///", engine.Endpoint{}, true},
		{"unix://run/docker.sock", engine.Endpoint{}, true},
		{"tcp://1.2.3.4", engine.Endpoint{}, true},
		{"tcp://:2375", engine.Endpoint{}, true},
		{"tcp://host:http", engine.Endpoint{}, true},
		{"http://x", engine.Endpoint{}, true},
		{"npipe:////./pipe/docker", engine.Endpoint{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := engine.ParseEndpoint(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if err != nil && !(strings.Contains(err.Error(), "unix:///path/to/socket") && strings.Contains(err.Error(), "tcp://host:port")) {
				t.Errorf("error %q does not name the accepted forms", err)
			}
			if err == nil && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// fakeDaemon serves a minimal Engine API on a unix socket and returns its
// endpoint.
func fakeDaemon(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func TestVersion(t *testing.T) {
	answering := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		if strings.HasSuffix(r.URL.Path, "/version") {
			w.Write([]byte(`{"Version":"20.10.24+dfsg1","ApiVersion":"1.41"}`))
		}
	}))
	silent := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		w.Write([]byte(`{}`))
	}))
	tests := []struct {
		name, endpoint, want string
	}{
		{"answers", answering, "20.10.24+dfsg1"},
		{"names no version", silent, ""},
		{"nobody listens", "unix://" + filepath.Join(t.TempDir(), "none.sock"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := engine.New(tt.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := c.Version(ctx)
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Errorf("Version = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestComponentVersion(t *testing.T) {
	ep := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		w.Write([]byte(`{"Version":"20.10.24+dfsg1","ApiVersion":"1.41","Components":[{"Name":"Engine","Version":"20.10.24+dfsg1"},{"Name":"containerd","Version":"1.7.24~ds1"}]}`))
	}))
	c, err := engine.New(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.ComponentVersion(context.Background(), "containerd"); v != "1.7.24~ds1" || err != nil {
		t.Errorf("containerd: %q %v", v, err)
	}
	if _, err := c.ComponentVersion(context.Background(), "runc"); err == nil || !strings.Contains(err.Error(), "no component runc") {
		t.Errorf("runc: %v", err)
	}
}
