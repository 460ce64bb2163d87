package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/liveswap/liveswap/runtime/health"
	"github.com/liveswap/liveswap/runtime/image"
)

// MaxImageBody bounds the archive of one `docker load` or `docker import`.
const MaxImageBody = 16 << 30

// imageUploadTimeout is how long an archive may take to arrive.
const imageUploadTimeout = 30 * time.Minute

// imageRef is what a create request's image names.
type imageRef struct {
	root string       // root folder; "" = the host's filesystem (image host)
	img  *image.Image // a stored image; nil for host and root folders
}

// resolveImage maps an image name to what the container runs in: image
// host, the absolute path of a root folder, or a stored image.
func (d *Daemon) resolveImage(name string) (imageRef, error) {
	switch {
	case name == "host":
		return imageRef{}, nil
	case strings.HasPrefix(name, "/"):
		clean := filepath.Clean(name)
		fi, err := os.Stat(clean)
		if err != nil || !fi.IsDir() {
			return imageRef{}, fmt.Errorf("image %q: not a root filesystem folder on this host: %w", name, ErrInvalid)
		}
		return imageRef{root: clean}, nil
	case name == "":
		return imageRef{}, fmt.Errorf("no image given: use an image of docker images, image \"host\" (the host filesystem, with allow-host-image) or the absolute path of a root filesystem folder: %w", ErrInvalid)
	}
	img, err := d.images.Get(name)
	if err != nil {
		return imageRef{}, imageErr(err)
	}
	if img.Config.OS != "" && img.Config.OS != "linux" {
		return imageRef{}, fmt.Errorf("image %s is for %s: %w", name, img.Config.OS, ErrInvalid)
	}
	return imageRef{root: d.images.RootFS(img.ID), img: img}, nil
}

// imageErr maps the image store's errors onto the API's categories.
func imageErr(err error) error {
	switch {
	case errors.Is(err, image.ErrNotFound):
		return fmt.Errorf("%w: %w", err, ErrNotFound)
	case errors.Is(err, image.ErrConflict):
		return fmt.Errorf("%w: %w", err, ErrConflict)
	case errors.Is(err, image.ErrInvalid):
		return fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return err
}

// withImageDefaults completes a create request from its image's config,
// as dockerd does: command and entrypoint, environment, user, working
// folder, labels, stop signal and healthcheck. It returns warnings for
// what of the image liveswapd does not apply.
func withImageDefaults(cfg *container.Config, ic dockerspec.DockerOCIImageConfig) []string {
	var warnings []string
	switch {
	case len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "":
		cfg.Entrypoint = nil // --entrypoint "": the image's is reset
	case len(cfg.Entrypoint) > 0:
	case len(cfg.Cmd) > 0:
		cfg.Entrypoint = ic.Entrypoint
	default:
		cfg.Entrypoint, cfg.Cmd = ic.Entrypoint, ic.Cmd
	}
	cfg.Env = mergeEnv(ic.Env, cfg.Env)
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	if len(ic.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range ic.Labels {
			labels[k] = v
		}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	if h := ic.Healthcheck; h != nil {
		if cfg.Healthcheck == nil {
			hc := *h
			cfg.Healthcheck = &hc
		} else {
			health.ImageDefaults(cfg.Healthcheck, h)
		}
	}
	for v := range ic.Volumes {
		warnings = append(warnings, fmt.Sprintf("the image declares VOLUME %s: liveswapd makes no anonymous volumes, so %s stays part of the container's root; bind a host folder there with -v /host/path:%s", v, v, v))
	}
	return warnings
}

// imageUser names the first container that uses image id, or "".
func (d *Daemon) imageUser(id string) string {
	for _, c := range d.List() {
		spec, _ := c.snapshot()
		if spec.ImageID == id {
			return spec.ID[:12]
		}
	}
	return ""
}

// --- API ---

func (d *Daemon) imageRoutes(mux *http.ServeMux) {
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

func (d *Daemon) imageList(w http.ResponseWriter, r *http.Request) {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err == nil {
		err = f.Validate(imageFilters)
	}
	if err != nil {
		writeError(w, fmt.Errorf("invalid filters: %v: %w", err, ErrInvalid))
		return
	}
	used := map[string]int64{}
	for _, c := range d.List() {
		spec, _ := c.snapshot()
		used[spec.ImageID]++
	}
	out := []imagetypes.Summary{}
	for _, img := range d.images.List() {
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

func (d *Daemon) imageGet(w http.ResponseWriter, r *http.Request) {
	name, action := imagePath(r.PathValue("name"), "")
	switch action {
	case "json":
		d.imageInspect(w, name)
	case "history":
		d.imageHistory(w, name)
	case "get":
		writeError(w, fmt.Errorf("GET /images/%s/get (docker save) is not implemented by liveswapd: images enter by docker load and docker import and are not exported: %w", name, ErrNotImplemented))
	default:
		notImplemented(w, r)
	}
}

func (d *Daemon) imageInspect(w http.ResponseWriter, name string) {
	img, err := d.images.Get(name)
	if err != nil {
		writeError(w, imageErr(err))
		return
	}
	drv, _ := d.images.Driver()
	tags := img.Tags
	if tags == nil {
		tags = []string{}
	}
	cfg := img.Config.Config
	resp := imagetypes.InspectResponse{
		ID: img.ID, RepoTags: tags, RepoDigests: []string{}, Author: img.Config.Author,
		Config: &cfg, Architecture: img.Config.Architecture, Variant: img.Config.Variant, Os: img.Config.OS,
		Size: img.Size, GraphDriver: storage.DriverData{Name: string(drv), Data: map[string]string{"RootFS": d.images.RootFS(img.ID)}},
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

func (d *Daemon) imageHistory(w http.ResponseWriter, name string) {
	img, err := d.images.Get(name)
	if err != nil {
		writeError(w, imageErr(err))
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

func (d *Daemon) imageTag(w http.ResponseWriter, r *http.Request) {
	name, action := imagePath(r.PathValue("name"), "")
	switch action {
	case "tag":
	case "push":
		writeError(w, fmt.Errorf("docker push is not supported by liveswapd: it talks to no registry: %w", ErrNotImplemented))
		return
	default:
		notImplemented(w, r)
		return
	}
	q := r.URL.Query()
	ref := q.Get("repo")
	if ref == "" {
		writeError(w, fmt.Errorf("tag: no repository given (repo=): %w", ErrInvalid))
		return
	}
	if t := q.Get("tag"); t != "" {
		ref += ":" + t
	}
	if _, err := d.images.Tag(name, ref); err != nil {
		writeError(w, imageErr(err))
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (d *Daemon) imageDelete(w http.ResponseWriter, r *http.Request) {
	force, _ := strconv.ParseBool(r.URL.Query().Get("force"))
	out, err := d.images.Delete(r.PathValue("name"), force, d.imageUser)
	if err != nil {
		writeError(w, imageErr(err))
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

func (d *Daemon) imageLoad(w http.ResponseWriter, r *http.Request) {
	loaded, err := d.images.Load(imageBody(w, r))
	if err != nil {
		writeError(w, imageErr(uploadErr("docker load", err)))
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
		d.imageEvent(l.ID, "load")
	}
	progress(w, msgs...)
}

// imageCreate is POST /images/create: docker import (fromSrc=-) is
// served; a pull (fromImage) or an import from a URL is refused.
func (d *Daemon) imageCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if from := q.Get("fromImage"); from != "" {
		ref := from
		if t := q.Get("tag"); t != "" {
			ref += ":" + t
		}
		writeError(w, fmt.Errorf("pull access denied for %s: liveswapd pulls from no registry; bring images in with docker load (a docker save archive or an OCI image layout) or docker import (a root filesystem tar): %w", ref, ErrNotFound))
		return
	}
	src := q.Get("fromSrc")
	if src != "-" {
		writeError(w, fmt.Errorf("docker import from %q is not supported by liveswapd: it downloads nothing; give the archive on standard input or as a local file: %w", src, ErrInvalid))
		return
	}
	ref := q.Get("repo")
	if t := q.Get("tag"); t != "" && ref != "" {
		ref += ":" + t
	}
	id, err := d.images.Import(imageBody(w, r), ref, q.Get("message"), q["changes"])
	if err != nil {
		writeError(w, imageErr(uploadErr("docker import", err)))
		return
	}
	d.imageEvent(id, "import")
	progress(w, map[string]string{"status": id})
}

// uploadErr names an archive that was too large or too slow.
func uploadErr(what string, err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("%s: the archive is larger than the %d GiB liveswapd accepts: %w", what, MaxImageBody>>30, ErrTooLarge)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s: the archive did not arrive within %v: %w", what, imageUploadTimeout, ErrTimeout)
	}
	return fmt.Errorf("%s: %w", what, err)
}
