package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"

	"github.com/liveswap/liveswap/runtime"
	"github.com/liveswap/liveswap/runtime/image"
)

// MaxImageBody bounds the archive of one `docker load` or `docker import`.
const MaxImageBody = 16 << 30

// imageUploadTimeout is how long an archive may take to arrive.
const imageUploadTimeout = 30 * time.Minute

func (d server) imageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /images/json", d.imageList)
	mux.HandleFunc("POST /images/load", d.imageLoad)
	mux.HandleFunc("POST /images/create", d.imageCreate)
	mux.HandleFunc("GET /images/{name...}", d.imageGet)
	mux.HandleFunc("POST /images/{name...}", d.imageTag)
	mux.HandleFunc("DELETE /images/{name...}", d.imageDelete)
}

// imagePath splits /images/NAME/ACTION: names hold slashes
// (registry.example/team/app:1), so the action is the last element.
func imagePath(p, def string) (name, action string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return p, def
	}
	return p[:i], p[i+1:]
}

func summaryOf(img *image.Image, containers int64) imagetypes.Summary {
	tags := img.Tags
	if tags == nil {
		tags = []string{}
	}
	labels := img.Config.Config.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return imagetypes.Summary{
		ID: img.ID, RepoTags: tags, RepoDigests: []string{}, Created: img.Created().Unix(), Size: img.Size,
		SharedSize: -1, Labels: labels, Containers: containers,
	}
}

var imageFilters = map[string]bool{"reference": true, "dangling": true, "label": true}

func (d server) imageList(w http.ResponseWriter, r *http.Request) {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err == nil {
		err = f.Validate(imageFilters)
	}
	if err != nil {
		writeError(w, fmt.Errorf("invalid filters: %v: %w", err, runtime.ErrInvalid))
		return
	}
	used := map[string]int64{}
	for _, c := range d.List() {
		spec, _ := c.Snapshot()
		used[spec.ImageID]++
	}
	out := []imagetypes.Summary{}
	for _, img := range d.Images().List() {
		if f.Contains("dangling") {
			dangling := len(img.Tags) == 0
			if !f.ExactMatch("dangling", strconv.FormatBool(dangling)) {
				continue
			}
		}
		if f.Contains("label") && !f.MatchKVList("label", img.Config.Config.Labels) {
			continue
		}
		if f.Contains("reference") {
			ok := false
			for _, t := range img.Tags {
				name, _, _ := strings.Cut(t, ":")
				if f.Match("reference", t) || f.Match("reference", name) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		out = append(out, summaryOf(img, used[img.ID]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (d server) imageGet(w http.ResponseWriter, r *http.Request) {
	name, action := imagePath(r.PathValue("name"), "")
	switch action {
	case "json":
		d.imageInspect(w, name)
	case "history":
		d.imageHistory(w, name)
	case "get":
		writeError(w, fmt.Errorf("GET /images/%s/get (docker save) is not implemented by liveswapd: images enter by docker load and docker import and are not exported: %w", name, runtime.ErrNotImplemented))
	default:
		notImplemented(w, r)
	}
}

func (d server) imageInspect(w http.ResponseWriter, name string) {
	img, err := d.Images().Get(name)
	if err != nil {
		writeError(w, runtime.ImageError(err))
		return
	}
	drv, _ := d.Images().Driver()
	tags := img.Tags
	if tags == nil {
		tags = []string{}
	}
	cfg := img.Config.Config
	resp := imagetypes.InspectResponse{
		ID: img.ID, RepoTags: tags, RepoDigests: []string{}, Author: img.Config.Author,
		Config: &cfg, Architecture: img.Config.Architecture, Variant: img.Config.Variant, Os: img.Config.OS,
		Size: img.Size, GraphDriver: storage.DriverData{Name: string(drv), Data: map[string]string{"RootFS": d.Images().RootFS(img.ID)}},
		RootFS:   imagetypes.RootFS{Type: "layers"},
		Metadata: imagetypes.Metadata{LastTagTime: img.Loaded},
	}
	if t := img.Created(); !t.IsZero() {
		resp.Created = t.Format(time.RFC3339Nano)
	}
	for _, l := range img.Config.RootFS.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, l.String())
	}
	if len(img.Config.History) > 0 {
		resp.Comment = img.Config.History[len(img.Config.History)-1].Comment
	}
	writeJSON(w, http.StatusOK, resp)
}

func (d server) imageHistory(w http.ResponseWriter, name string) {
	img, err := d.Images().Get(name)
	if err != nil {
		writeError(w, runtime.ImageError(err))
		return
	}
	out := []imagetypes.HistoryResponseItem{}
	h := img.Config.History
	// Newest first, as dockerd lists it; the image's ID on the newest.
	for i := len(h) - 1; i >= 0; i-- {
		item := imagetypes.HistoryResponseItem{ID: "<missing>", CreatedBy: h[i].CreatedBy, Comment: h[i].Comment, Tags: []string{}}
		if h[i].Created != nil {
			item.Created = h[i].Created.Unix()
		}
		if i == len(h)-1 {
			item.ID, item.Tags, item.Size = img.ID, img.Tags, img.Size
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		out = append(out, imagetypes.HistoryResponseItem{ID: img.ID, Created: img.Created().Unix(), Size: img.Size, Tags: img.Tags})
	}
	writeJSON(w, http.StatusOK, out)
}

func (d server) imageTag(w http.ResponseWriter, r *http.Request) {
	name, action := imagePath(r.PathValue("name"), "")
	switch action {
	case "tag":
	case "push":
		writeError(w, fmt.Errorf("docker push is not supported by liveswapd: it talks to no registry: %w", runtime.ErrNotImplemented))
		return
	default:
		notImplemented(w, r)
		return
	}
	q := r.URL.Query()
	ref := q.Get("repo")
	if ref == "" {
		writeError(w, fmt.Errorf("tag: no repository given (repo=): %w", runtime.ErrInvalid))
		return
	}
	if t := q.Get("tag"); t != "" {
		ref += ":" + t
	}
	if _, err := d.Images().Tag(name, ref); err != nil {
		writeError(w, runtime.ImageError(err))
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (d server) imageDelete(w http.ResponseWriter, r *http.Request) {
	force, _ := strconv.ParseBool(r.URL.Query().Get("force"))
	out, err := d.Images().Delete(r.PathValue("name"), force, d.ImageUser)
	if err != nil {
		writeError(w, runtime.ImageError(err))
		return
	}
	resp := []imagetypes.DeleteResponse{}
	for _, o := range out {
		resp = append(resp, imagetypes.DeleteResponse{Untagged: o.Untagged, Deleted: o.Deleted})
	}
	writeJSON(w, http.StatusOK, resp)
}

// imageBody gives an archive upload its own bounds: larger than a JSON
// request's, and more time to arrive.
func imageBody(w http.ResponseWriter, r *http.Request) io.Reader {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(imageUploadTimeout))
	return http.MaxBytesReader(w, r.Body, MaxImageBody)
}

// progress writes the JSON message stream the docker CLI prints.
func progress(w http.ResponseWriter, msgs ...map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for _, m := range msgs {
		enc.Encode(m)
	}
}

func (d server) imageLoad(w http.ResponseWriter, r *http.Request) {
	loaded, err := d.Images().Load(imageBody(w, r))
	if err != nil {
		writeError(w, runtime.ImageError(uploadErr("docker load", err)))
		return
	}
	var msgs []map[string]string
	for _, l := range loaded {
		if len(l.Tags) == 0 {
			msgs = append(msgs, map[string]string{"stream": "Loaded image ID: " + l.ID + "\n"})
		}
		for _, t := range l.Tags {
			msgs = append(msgs, map[string]string{"stream": "Loaded image: " + t + "\n"})
		}
		d.ImageEvent(l.ID, "load")
	}
	progress(w, msgs...)
}

// imageCreate is POST /images/create: docker import (fromSrc=-) is
// served; a pull (fromImage) or an import from a URL is refused.
func (d server) imageCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if from := q.Get("fromImage"); from != "" {
		ref := from
		if t := q.Get("tag"); t != "" {
			ref += ":" + t
		}
		why := ""
		if strings.HasPrefix(ref, "moby/buildkit") || strings.HasPrefix(ref, "docker.io/moby/buildkit") {
			// BuildKit's builder (docker buildx, compose build:) pulls
			// itself before it builds: say what was really asked.
			why = " (this is BuildKit's own image: an image build, which liveswapd does not do; build elsewhere and docker save | docker load the result)"
		}
		writeError(w, fmt.Errorf("pull access denied for %s: liveswapd pulls from no registry%s; bring images in with docker load (a docker save archive or an OCI image layout) or docker import (a root filesystem tar): %w", ref, why, runtime.ErrNotFound))
		return
	}
	src := q.Get("fromSrc")
	if src != "-" {
		writeError(w, fmt.Errorf("docker import from %q is not supported by liveswapd: it downloads nothing; give the archive on standard input or as a local file: %w", src, runtime.ErrInvalid))
		return
	}
	ref := q.Get("repo")
	if t := q.Get("tag"); t != "" && ref != "" {
		ref += ":" + t
	}
	id, err := d.Images().Import(imageBody(w, r), ref, q.Get("message"), q["changes"])
	if err != nil {
		writeError(w, runtime.ImageError(uploadErr("docker import", err)))
		return
	}
	d.ImageEvent(id, "import")
	progress(w, map[string]string{"status": id})
}

// uploadErr names an archive that was too large or too slow.
func uploadErr(what string, err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("%s: the archive is larger than the %d GiB liveswapd accepts: %w", what, MaxImageBody>>30, runtime.ErrTooLarge)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s: the archive did not arrive within %v: %w", what, imageUploadTimeout, runtime.ErrTimeout)
	}
	return fmt.Errorf("%s: %w", what, err)
}
