package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/container"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/liveswap/liveswap/runtime/health"
	"github.com/liveswap/liveswap/runtime/image"
)

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
		return imageRef{}, ImageError(err)
	}
	if img.Config.OS != "" && img.Config.OS != "linux" {
		return imageRef{}, fmt.Errorf("image %s is for %s: %w", name, img.Config.OS, ErrInvalid)
	}
	return imageRef{root: d.images.RootFS(img.ID), img: img}, nil
}

// ImageError maps the image store's errors onto the API's categories.
func ImageError(err error) error {
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
		cfg.Labels = merged(ic.Labels, cfg.Labels)
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

// ImageUser names the first container that uses image id, or "".
func (d *Daemon) ImageUser(id string) string {
	for _, c := range d.List() {
		spec, _ := c.Snapshot()
		if spec.ImageID == id {
			return spec.ID[:12]
		}
	}
	return ""
}
