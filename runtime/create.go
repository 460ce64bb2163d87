package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/namesgenerator"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/runtime/config"
	"github.com/liveswap/liveswap/runtime/health"
	"github.com/liveswap/liveswap/runtime/image"
	"github.com/liveswap/liveswap/runtime/oci"
	"github.com/liveswap/liveswap/runtime/shim"
)

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// Create registers a new container. Warnings are returned to the client.
func (d *Daemon) Create(name string, cfg *container.Config, hc *container.HostConfig) (*Container, []string, error) {
	if d.shutting.Load() {
		return nil, nil, ErrShuttingDown
	}
	if cfg == nil {
		return nil, nil, fmt.Errorf("config cannot be empty in order to create a container: %w", ErrInvalid)
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	var warnings []string
	ref, err := d.resolveImage(cfg.Image)
	if err != nil {
		return nil, nil, err
	}
	root := ref.root
	if ref.img != nil {
		warnings = append(warnings, withImageDefaults(cfg, ref.img.Config.Config)...)
	}
	if err := health.Check(cfg.Healthcheck); err != nil {
		return nil, nil, err
	}
	if err := d.checkIsolation(root, cfg, hc); err != nil {
		return nil, nil, err
	}
	switch nm := string(hc.NetworkMode); nm {
	case "", "default", "host":
		if nm == "" {
			hc.NetworkMode = "default"
		}
	case "none":
		if root == "" {
			return nil, nil, fmt.Errorf("network mode none needs a root folder image: image host runs in the host's namespaces: %w", ErrUnsupported)
		}
	default:
		return nil, nil, fmt.Errorf("network mode %q is not supported by liveswapd: containers share the host's network or have none; use --network host (or default) or --network none: %w", nm, ErrInvalid)
	}
	if len(hc.PortBindings) > 0 || len(cfg.ExposedPorts) > 0 && hc.PublishAllPorts {
		warnings = append(warnings, "Published ports are discarded when using host network mode")
		hc.PortBindings = nil
	}
	if err := validPolicy(hc.RestartPolicy); err != nil {
		return nil, nil, err
	}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return nil, nil, fmt.Errorf("can't create 'AutoRemove' container with restart policy: %w", ErrInvalid)
	}
	if root == "" {
		if err := checkBinds(root, hc); err != nil {
			return nil, nil, err
		}
	}
	if err := d.resolveLogConfig(hc); err != nil {
		return nil, nil, err
	}
	if len(cfg.Volumes) > 0 {
		return nil, nil, fmt.Errorf("anonymous volumes (VOLUME, -v /path) are not supported by liveswapd; use -v /host/path:/path: %w", ErrUnsupported)
	}
	if cfg.Tty || cfg.OpenStdin {
		return nil, nil, fmt.Errorf("a terminal and standard input (-t, -i) are not supported by liveswapd: a container's output goes to its log, which docker run, attach and logs stream; run it without -t and -i: %w", ErrUnsupported)
	}
	if (cfg.AttachStdout || cfg.AttachStderr) && hc.LogConfig.Type == config.LogDriverNone {
		return nil, nil, fmt.Errorf("a foreground run streams the container's log, and log driver none keeps none: run it detached (-d) or with --log-driver json-file: %w", ErrUnsupported)
	}
	args := append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("no command specified (image %q has no default command): %w", cfg.Image, ErrInvalid)
	}
	if _, _, err := resolveUser(root, cfg.User); err != nil {
		return nil, nil, err
	}
	if root != "" {
		// Everything the bundle will hold is judged now, so a refused flag
		// creates nothing.
		if _, err := resolveGroups(root, hc.GroupAdd); err != nil {
			return nil, nil, err
		}
		draft := ContainerSpec{Root: root, Path: args[0], Args: args[1:], Config: cfg, HostConfig: hc}
		if _, err := oci.Build(ociInput(draft)); err != nil {
			return nil, nil, err
		}
	}
	if name != "" && !validName.MatchString(name) {
		return nil, nil, fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, ErrInvalid)
	}
	name = strings.TrimPrefix(name, "/")

	id := newID()
	d.mu.Lock()
	if name == "" {
		for i := 0; ; i++ {
			name = namesgenerator.GetRandomName(i)
			if _, taken := d.byName[name]; !taken {
				break
			}
		}
	}
	if other, taken := d.byName[name]; taken {
		d.mu.Unlock()
		return nil, nil, fmt.Errorf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name: %w", name, other.spec.ID, ErrConflict)
	}
	spec := ContainerSpec{
		Version: shim.ProtoVersion, ID: id, Name: name, Created: time.Now().UTC(), Image: cfg.Image, Root: root,
		Path: args[0], Args: args[1:], Config: cfg, HostConfig: hc,
	}
	if ref.img != nil {
		spec.ImageID = ref.img.ID
	}
	c := newContainer(spec, ContainerState{Status: StatusCreated}, filepath.Join(d.containersDir(), id), filepath.Join(d.runsDir(), id))
	// Reserve the name before the disk writes so a concurrent create of the
	// same name gets a conflict.
	d.byName[name] = c
	d.mu.Unlock()

	err = func() error {
		if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", c.dataDir, err)
		}
		if spec.ImageID != "" {
			// The container's own root: an overlay on the image, or a copy.
			r, err := d.images.Prepare(spec.ImageID, c.dataDir)
			if err != nil {
				return err
			}
			spec.Root = r
			c.mu.Lock()
			c.spec.Root = r
			c.mu.Unlock()
		}
		if err := atomicfile.WriteJSON(filepath.Join(c.dataDir, "config.json"), spec, 0o600); err != nil {
			return err
		}
		return atomicfile.WriteJSON(filepath.Join(c.dataDir, "state.json"), c.st, 0o600)
	}()
	d.mu.Lock()
	if err != nil {
		delete(d.byName, name)
		d.mu.Unlock()
		image.Unmount(c.dataDir)
		removeDirAtomic(c.dataDir)
		return nil, nil, err
	}
	d.byID[id] = c
	d.mu.Unlock()
	d.event(c, events.ActionCreate, nil)
	return c, warnings, nil
}

// resolveLogConfig fills a container's log driver from the daemon's
// defaults, as dockerd does (no driver: the default driver and options;
// the default driver: the default options under the container's own), and
// refuses what liveswapd does not implement.
func (d *Daemon) resolveLogConfig(hc *container.HostConfig) error {
	cfg := d.Config()
	lc := &hc.LogConfig
	if lc.Type == "" || lc.Type == cfg.LogDriver {
		if lc.Type == "" {
			lc.Type = cfg.LogDriver
		}
		lc.Config = merged(cfg.LogOpts, lc.Config)
	}
	if lc.Config == nil {
		lc.Config = map[string]string{}
	}
	_, err := config.ParseLogConfig(lc.Type, lc.Config)
	return err
}

// checkBinds accepts bind mounts only where they change nothing: with image
// host, source and destination must be the same path (the container sees
// the host filesystem anyway). liveswapd makes no mount namespaces, so
// binds into a root folder are refused.
func checkBinds(root string, hc *container.HostConfig) error {
	check := func(src, dst string) error {
		if root != "" {
			return fmt.Errorf("bind mount %s:%s: mounts are not supported with a root folder image; use image host: %w", src, dst, ErrUnsupported)
		}
		if filepath.Clean(src) != filepath.Clean(dst) {
			return fmt.Errorf("bind mount %s:%s: with image host the container sees the host filesystem, so source and destination must be the same path (-v %s:%s): %w", src, dst, src, src, ErrUnsupported)
		}
		if !filepath.IsAbs(src) {
			return fmt.Errorf("bind mount %s:%s: named volumes are not supported by liveswapd; use an absolute host path: %w", src, dst, ErrUnsupported)
		}
		return nil
	}
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 {
			return fmt.Errorf("bind mount %q: anonymous volumes are not supported by liveswapd; use -v /path:/path: %w", b, ErrUnsupported)
		}
		if err := check(parts[0], parts[1]); err != nil {
			return err
		}
	}
	for _, m := range hc.Mounts {
		if m.Type != "bind" {
			return fmt.Errorf("mount of type %q is not supported by liveswapd; only bind mounts with the same path on both sides: %w", m.Type, ErrUnsupported)
		}
		if err := check(m.Source, m.Target); err != nil {
			return err
		}
	}
	return nil
}

// --- start ---
