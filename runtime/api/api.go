// Package api is liveswapd's Docker Engine API server: the routes of the
// subset liveswapd serves (api.go; 501 naming the route for the rest),
// the /vX.Y prefix, errors mapped to statuses (errors.go), request limits
// (limits.go), hijacked attach and exec streams (attach.go, exec.go), and
// the container, image, network, volume, system and event handlers.
//
// It holds no container state: handlers reach the container store (package
// runtime) through its exported methods only, and the store never imports
// this package. cmd/liveswapd serves Handler on the daemon's sockets.
package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/versions"

	"github.com/liveswap/liveswap/runtime"
)

// API versions: liveswapd speaks the Engine API of dockerd 20.10, which is
// what the docker.io CLI and a negotiating Go SDK client expect.
const (
	APIVersion    = "1.41"
	MinAPIVersion = "1.24"
)

// server is the API over the container store: handlers reach the daemon
// through its exported methods only.
type server struct{ *runtime.Daemon }

// Handler returns the Engine API subset over the daemon's containers as an
// http.Handler.
func Handler(daemon *runtime.Daemon) http.Handler {
	d := server{daemon}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", d.ping)
	mux.HandleFunc("HEAD /_ping", d.ping)
	mux.HandleFunc("GET /version", d.version)
	mux.HandleFunc("GET /info", d.info)
	mux.HandleFunc("GET /events", d.eventsHandler)
	mux.HandleFunc("GET /containers/json", d.list)
	mux.HandleFunc("POST /containers/create", d.create)
	mux.HandleFunc("GET /containers/{id}/json", d.withContainer(d.inspectHandler))
	mux.HandleFunc("POST /containers/{id}/start", d.withContainer(d.start))
	mux.HandleFunc("POST /containers/{id}/stop", d.withContainer(d.stop))
	mux.HandleFunc("POST /containers/{id}/restart", d.withContainer(d.restart))
	mux.HandleFunc("POST /containers/{id}/kill", d.withContainer(d.kill))
	mux.HandleFunc("POST /containers/{id}/wait", d.withContainer(d.wait))
	mux.HandleFunc("GET /containers/{id}/logs", d.withContainer(d.logs))
	mux.HandleFunc("GET /containers/{id}/top", d.withContainer(d.top))
	mux.HandleFunc("GET /containers/{id}/stats", d.withContainer(d.stats))
	mux.HandleFunc("DELETE /containers/{id}", d.withContainer(d.remove))
	mux.HandleFunc("POST /containers/{id}/attach", d.withContainer(d.attach))
	mux.HandleFunc("POST /containers/{id}/exec", d.withContainer(d.execCreate))
	mux.HandleFunc("POST /exec/{id}/start", d.execStart)
	mux.HandleFunc("GET /exec/{id}/json", d.execInspect)
	mux.HandleFunc("POST /exec/{id}/resize", d.execResize)
	d.imageRoutes(mux)
	d.networkRoutes(mux)
	d.volumeRoutes(mux)
	buildRoutes(mux)
	mux.HandleFunc("/", notImplemented)
	return bounded(d.versioned(mux), time.Duration(d.Config().APIReadTimeout)*time.Second)
}

// versioned strips a /vX.Y prefix (refusing versions we cannot serve) and
// sets the headers dockerd sets on every response.
func (d server) versioned(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Api-Version", APIVersion)
		h.Set("Docker-Experimental", "false")
		h.Set("Ostype", "linux")
		h.Set("Server", "liveswapd/"+d.Version()+" (linux)")
		p := r.URL.Path
		if strings.HasPrefix(p, "/v") {
			rest := p[2:]
			if i := strings.IndexByte(rest, '/'); i > 0 {
				v := rest[:i]
				if _, err := strconv.ParseFloat(v, 64); err == nil {
					if versions.GreaterThan(v, APIVersion) {
						writeJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", v, APIVersion)})
						return
					}
					if versions.LessThan(v, MinAPIVersion) {
						writeJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion)})
						return
					}
					r.URL.Path = rest[i:]
					r.URL.RawPath = ""
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// notImplemented answers a route liveswapd does not serve with 501 and the
// route's name: a 404 would read, to an SDK, as "that container is gone".
func notImplemented(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotImplemented, map[string]string{"message": fmt.Sprintf("%s %s is not implemented by liveswapd (it serves a subset of the Docker Engine API; see docs/liveswapd.md)", r.Method, r.URL.Path)})
}

func (d server) withContainer(h func(http.ResponseWriter, *http.Request, *runtime.Container)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := d.Get(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		h(w, r, c)
	}
}
