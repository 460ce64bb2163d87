package api

import (
	"fmt"
	"net/http"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/liveswap/liveswap/runtime"
)

// liveswapd makes no volumes: a named or anonymous volume is refused at
// create (use -v /host/path:/path). So the list is truthfully empty, and a
// client that reads it before removing a project (Compose's down lists the
// project's volumes by label) can go on; creating or removing a volume stays
// refused (501, the route named) by the catch-all.

var volumeFilters = map[string]bool{"name": true, "label": true, "driver": true, "dangling": true}

func (d server) volumeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /volumes", d.volumeList)
	mux.HandleFunc("GET /volumes/{name}", d.volumeInspect)
}

func (d server) volumeList(w http.ResponseWriter, r *http.Request) {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err == nil {
		err = f.Validate(volumeFilters)
	}
	if err != nil {
		writeError(w, fmt.Errorf("invalid filters: %v: %w", err, runtime.ErrInvalid))
		return
	}
	writeJSON(w, http.StatusOK, volume.ListResponse{Volumes: []*volume.Volume{}, Warnings: []string{}})
}

func (d server) volumeInspect(w http.ResponseWriter, r *http.Request) {
	writeError(w, fmt.Errorf("get %s: no such volume: liveswapd makes no volumes; bind a host folder with -v /host/path:/path: %w", r.PathValue("name"), runtime.ErrNotFound))
}
