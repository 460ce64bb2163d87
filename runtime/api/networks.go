package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/liveswap/liveswap/runtime"
)

// liveswapd has no network of its own to manage: a container shares the
// host's network (host, and default, which means host here) or has its own
// empty one (none). These two built-ins are what GET /networks lists, as
// dockerd lists its own host and none; clients such as Compose read the
// list (with a label filter: nothing of theirs) before they remove a
// project. Creating, connecting and removing networks stays refused (501,
// the route named) by the catch-all.
var builtinNetworks = []struct{ name, driver string }{{"host", "host"}, {"none", "null"}}

// networkID is stable across restarts and daemons: a built-in network is
// the same network on every liveswapd.
func networkID(name string) string {
	s := sha256.Sum256([]byte("liveswapd network " + name))
	return hex.EncodeToString(s[:])
}

var networkFilters = map[string]bool{"name": true, "id": true, "label": true, "driver": true, "scope": true, "type": true}

func (d server) networkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /networks", d.networkList)
	mux.HandleFunc("GET /networks/{id}", d.networkInspect)
	mux.HandleFunc("POST /networks/create", networkCreate)
}

// networkCreate refuses with the way out: Compose creates a project network
// for every service without network_mode, and its user reads only this
// message.
func networkCreate(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name string }
	json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req)
	writeError(w, fmt.Errorf("POST /networks/create (network %q) is not implemented by liveswapd: it creates no networks; a container uses the host's network or none: run it with --network host (compose: network_mode: host, no ports: or networks:): %w", req.Name, runtime.ErrNotImplemented))
}

// network describes a built-in network with the containers on it now.
func (d server) network(name, driver string) network.Inspect {
	n := network.Inspect{
		Name: name, ID: networkID(name), Created: d.StartedAt(), Scope: "local", Driver: driver,
		EnableIPv4: name != "none", IPAM: network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{}},
		Containers: map[string]network.EndpointResource{}, Options: map[string]string{}, Labels: map[string]string{},
	}
	for _, c := range d.List() {
		spec, st := c.Snapshot()
		if st.Status != runtime.StatusRunning || spec.HostConfig == nil {
			continue
		}
		mode := string(spec.HostConfig.NetworkMode)
		if mode == "default" {
			mode = "host"
		}
		if mode == name {
			n.Containers[spec.ID] = network.EndpointResource{Name: spec.Name}
		}
	}
	return n
}

func (d server) networkList(w http.ResponseWriter, r *http.Request) {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err == nil {
		err = f.Validate(networkFilters)
	}
	if err == nil && f.Contains("type") && !f.ExactMatch("type", "builtin") && !f.ExactMatch("type", "custom") {
		err = fmt.Errorf("invalid filter: 'type'='%s': it is builtin or custom", strings.Join(f.Get("type"), ","))
	}
	if err != nil {
		writeError(w, fmt.Errorf("invalid filters: %v: %w", err, runtime.ErrInvalid))
		return
	}
	out := []network.Summary{}
	for _, b := range builtinNetworks {
		id := networkID(b.name)
		switch {
		case f.Contains("name") && !f.Match("name", b.name),
			f.Contains("id") && !f.Match("id", id),
			f.Contains("label") && !f.MatchKVList("label", nil),
			f.Contains("driver") && !f.ExactMatch("driver", b.driver),
			f.Contains("scope") && !f.ExactMatch("scope", "local"),
			f.Contains("type") && !f.ExactMatch("type", "builtin"):
			continue
		}
		n := d.network(b.name, b.driver)
		n.Containers = nil // dockerd's list leaves them out too
		out = append(out, n)
	}
	writeJSON(w, http.StatusOK, out)
}

// networkInspect finds a built-in by name, full ID or ID prefix; any other
// network does not exist (404), which is what Compose asks before it would
// create a project network, and then gets the 501 of POST /networks/create.
func (d server) networkInspect(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	for _, b := range builtinNetworks {
		if ref == b.name || len(ref) >= 3 && strings.HasPrefix(networkID(b.name), ref) {
			writeJSON(w, http.StatusOK, d.network(b.name, b.driver))
			return
		}
	}
	writeError(w, fmt.Errorf("network %s not found: liveswapd has only the networks host and none (--network host or none; it creates no networks): %w", ref, runtime.ErrNotFound))
}
