package oci

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// userMounts turns -v, --mount and --tmpfs into OCI mounts.
func userMounts(hc *container.HostConfig) ([]specs.Mount, error) {
	var out []specs.Mount
	bind := func(src, dst string, ro bool) error {
		if !filepath.IsAbs(src) {
			return fmt.Errorf("bind mount %s:%s: named volumes are not supported by liveswapd; use an absolute host path: %w", src, dst, ErrUnsupported)
		}
		if !filepath.IsAbs(dst) {
			return fmt.Errorf("bind mount %s:%s: the destination must be an absolute path: %w", src, dst, ErrInvalid)
		}
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("bind mount %s:%s: invalid mount config: bind source path does not exist: %s: %w", src, dst, src, ErrInvalid)
		}
		opts := []string{"rbind", "rprivate"}
		if ro {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{Destination: filepath.Clean(dst), Type: "bind", Source: filepath.Clean(src), Options: opts})
		return nil
	}
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("bind mount %q: anonymous volumes are not supported by liveswapd; use -v /host/path:/path[:ro]: %w", b, ErrUnsupported)
		}
		ro := false
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					ro = true
				case "rw":
				default:
					return nil, fmt.Errorf("bind mount %q: option %q is not supported by liveswapd (ro and rw are): %w", b, o, ErrUnsupported)
				}
			}
		}
		if err := bind(parts[0], parts[1], ro); err != nil {
			return nil, err
		}
	}
	for _, m := range hc.Mounts {
		switch m.Type {
		case "bind":
			if m.BindOptions != nil && (m.BindOptions.Propagation != "" || m.BindOptions.NonRecursive || m.BindOptions.CreateMountpoint) {
				return nil, fmt.Errorf("--mount %s: bind options are not supported by liveswapd: %w", m.Target, ErrUnsupported)
			}
			if err := bind(m.Source, m.Target, m.ReadOnly); err != nil {
				return nil, err
			}
		case "tmpfs":
			opts := []string{"nosuid", "nodev", "noexec"}
			if m.TmpfsOptions != nil {
				if m.TmpfsOptions.SizeBytes > 0 {
					opts = append(opts, "size="+strconv.FormatInt(m.TmpfsOptions.SizeBytes, 10))
				}
				if m.TmpfsOptions.Mode != 0 {
					opts = append(opts, fmt.Sprintf("mode=%o", m.TmpfsOptions.Mode.Perm()))
				}
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		default:
			return nil, fmt.Errorf("--mount type=%s is not supported by liveswapd; use type=bind or type=tmpfs: %w", m.Type, ErrUnsupported)
		}
	}
	paths := make([]string, 0, len(hc.Tmpfs))
	for p := range hc.Tmpfs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		opts := []string{"nosuid", "nodev", "noexec"}
		if o := hc.Tmpfs[p]; o != "" {
			opts = append(opts, strings.Split(o, ",")...)
		}
		out = append(out, specs.Mount{Destination: p, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	return out, nil
}
