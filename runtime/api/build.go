package api

import (
	"fmt"
	"net/http"

	"github.com/liveswap/liveswap/runtime"
)

// liveswapd builds no images. The classic builder posts to /build and
// BuildKit opens /grpc and /session; each is refused naming the build, so a
// `compose up` with build: says what it cannot do. (BuildKit's client then
// tries a builder container of moby/buildkit, whose pull is refused too.)
func buildRoutes(mux *http.ServeMux) {
	for _, route := range []string{"POST /build", "POST /grpc", "POST /session"} {
		mux.HandleFunc(route, refuseBuild)
	}
}

func refuseBuild(w http.ResponseWriter, r *http.Request) {
	writeError(w, fmt.Errorf("%s %s (an image build: docker build, compose build:) is not implemented by liveswapd: it builds no images; build elsewhere and bring the image in with docker load or docker import: %w", r.Method, r.URL.Path, runtime.ErrNotImplemented))
}
