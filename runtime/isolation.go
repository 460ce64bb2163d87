package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/docker/docker/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
	"github.com/liveswap/liveswap/runtime/oci"
)

// HostImageOption is how docker info names the opt-in that lets image
// "host" run unisolated. Every comma-separated part must be key=value:
// the docker CLI refuses to print info otherwise.
const HostImageOption = "name=allow-host-image,isolation=none"

// checkIsolation decides how a container runs and refuses what that way
// cannot honour. A root folder image runs through runc, isolated. Image
// "host" runs on the host unisolated, only with the daemon's
// allow-host-image opt-in; inspect shows it as HostConfig.Privileged.
func (d *Daemon) checkIsolation(root string, cfg *container.Config, hc *container.HostConfig) error {
	switch hc.Runtime {
	case "", "runc":
	default:
		return fmt.Errorf("--runtime %q is not supported by liveswapd: it runs runc: %w", hc.Runtime, ErrUnsupported)
	}
	if root == "" {
		if !d.Config().AllowHostImage {
			return fmt.Errorf(`image "host" runs a container unisolated (the host's namespaces and files, every capability, no cgroup limits) and is refused unless liveswapd's daemon.json sets "allow-host-image": true; use a root folder image to run it isolated: %w`, ErrUnsupported)
		}
		if err := refuseUnsupported(cfg, hc, hostFields, ` with image "host", which runs unisolated on the host; use a root folder image`); err != nil {
			return err
		}
		hc.Privileged = true
		hc.Runtime = ""
		return nil
	}
	if hc.Privileged {
		return fmt.Errorf(`--privileged is not supported by liveswapd with a root folder image; image "host" is its unisolated mode: %w`, ErrUnsupported)
	}
	if err := refuseUnsupported(cfg, hc, isolatedFields, ""); err != nil {
		return err
	}
	hc.Runtime = "runc"
	return nil
}

// initPath is docker-init (tini), which --init runs as the container's
// PID 1; "" when it is not installed.
func initPath() string {
	p, err := exec.LookPath("docker-init")
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// RuncPath is the runc a new container is started with.
func (d *Daemon) RuncPath() (string, error) {
	if p := d.Config().RuncBinary; p != "" {
		return p, nil
	}
	p, err := exec.LookPath("runc")
	if err != nil {
		return "", fmt.Errorf("runc not found in PATH: install Debian's runc package or set \"runc-binary\" in daemon.json: %w", ErrUnsupported)
	}
	return p, nil
}

// resolveGroups turns --group-add names or ids into gids, read from the
// image's /etc/group.
func resolveGroups(root string, groups []string) ([]uint32, error) {
	var out []uint32
	for _, g := range groups {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			out = append(out, uint32(n))
			continue
		}
		e, ok := lookupDB(filepath.Join(root, "etc/group"), g, 0)
		if !ok {
			return nil, fmt.Errorf("--group-add %s: unable to find group %s: no matching entries in group file: %w", g, g, ErrInvalid)
		}
		n, _ := strconv.ParseUint(e[2], 10, 32)
		out = append(out, uint32(n))
	}
	return out, nil
}

// bundle builds the OCI spec of a container's next run and writes the
// files it bind-mounts (hosts, resolv.conf, hostname) into its data folder.
func (d *Daemon) bundle(c *Container, spec ContainerSpec, uid, gid uint32, env []string, hostname string) (*specs.Spec, error) {
	groups, err := resolveGroups(spec.Root, spec.HostConfig.GroupAdd)
	if err != nil {
		return nil, err
	}
	in := ociInput(spec)
	in.UID, in.GID, in.Groups, in.Env, in.Hostname = uid, gid, groups, env, hostname
	files, err := oci.EtcFiles(spec.HostConfig, hostname, os.ReadFile)
	if err != nil {
		return nil, err
	}
	dst := map[string]*string{"hosts": &in.Hosts, "resolv.conf": &in.Resolv, "hostname": &in.HostnameFile}
	for _, f := range files {
		p := filepath.Join(c.dataDir, f.Name)
		if err := atomicfile.WriteFile(p, []byte(f.Body), 0o644); err != nil {
			return nil, err
		}
		*dst[f.Name] = p
	}
	return oci.Build(in)
}

// ociInput is the part of a bundle's input the create request gives.
func ociInput(spec ContainerSpec) oci.Input {
	return oci.Input{
		ID: spec.ID, Root: spec.Root, Args: append([]string{spec.Path}, spec.Args...),
		Config: spec.Config, HostConfig: spec.HostConfig, InitPath: initPath(),
	}
}
