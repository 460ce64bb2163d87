package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRelease answers like a dockerd of one release: its API version on
// /_ping, and a refusal of any newer client version, as dockerd does.
type fakeRelease struct {
	mu      sync.Mutex
	api     string // e.g. 1.45
	version string // e.g. 26.1.5
}

func (f *fakeRelease) set(api, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.api, f.version = api, version
}

func (f *fakeRelease) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	api, version := f.api, f.version
	f.mu.Unlock()
	w.Header().Set("Api-Version", api)
	if r.URL.Path == "/_ping" {
		w.Write([]byte("OK"))
		return
	}
	if v, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v"), "/"); ok && rest == "info" {
		if v > api { // the versions compared here have the same length
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"message": fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", v, api)})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ServerVersion": version, "LiveRestoreEnabled": true})
		return
	}
	http.NotFound(w, r)
}

func TestWaitReadyNegotiatesAgain(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRelease{api: "1.45", version: "26.1.5"}
	srv := &http.Server{Handler: f}
	go srv.Serve(l)
	defer srv.Close()

	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	steps := []struct{ api, version string }{
		{"1.45", "26.1.5"},   // the release running before the rollback
		{"1.41", "20.10.24"}, // rolled back: an older API
		{"1.45", "26.1.5"},   // upgraded again: a newer one
	}
	for i, s := range steps {
		f.set(s.api, s.version)
		if i > 0 {
			// Without negotiating again, the client keeps the old version.
			if _, err := c.Status(ctx); i == 1 && (err == nil || !strings.Contains(err.Error(), "too new")) {
				t.Fatalf("a client that negotiated with 1.45 asked 1.41 without error (%v): the fake does not refuse", err)
			}
		}
		st, _, err := c.WaitReady(ctx, 10*time.Millisecond)
		if err != nil || st.Version != s.version || st.APIVersion != s.api {
			t.Fatalf("step %d (%s, API %s): status %+v, %v", i, s.version, s.api, st, err)
		}
	}
}
