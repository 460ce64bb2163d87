// Package oci builds the OCI runtime spec (config.json) runc runs a
// liveswapd container with: Docker's defaults for capabilities, masked
// paths, seccomp and no-new-privileges, the container's own namespaces,
// mounts and cgroup limits. It is pure: it reads no daemon state and
// writes no file (a bind mount's source is checked to exist).
package oci

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/liveswap/liveswap/runtime/errdefs"
)

// Refusals wrap one of these; the daemon's API maps them to statuses
// (they are runtime/errdefs' categories).
var (
	ErrInvalid     = errdefs.ErrInvalid
	ErrUnsupported = errdefs.ErrUnsupported
)

// Input is what a container's OCI bundle is built from: its create
// request and what the daemon resolved for it.
type Input struct {
	ID   string
	Root string   // the root folder runc runs in
	Args []string // the command: path, then its arguments
	// Config and HostConfig are the create request.
	Config     *container.Config
	HostConfig *container.HostConfig

	UID, GID uint32
	Groups   []uint32
	Env      []string
	Hostname string
	// Files are the container's /etc/hosts, /etc/resolv.conf and
	// /etc/hostname on the host, bind-mounted as dockerd does.
	Hosts, Resolv, HostnameFile string
	// InitPath is the init --init runs (docker-init); "" when not found.
	InitPath string
}

// CgroupPath is the container's cgroup (runc's cgroupfs driver) under
// every hierarchy.
func CgroupPath(id string) string { return "/liveswapd/" + id }

// Build turns a container's create request into the OCI runtime spec
// runc runs: its own PID, mount, IPC, UTS and cgroup namespaces, the host's
// network or none, Docker's capabilities, masked paths and seccomp profile,
// no-new-privileges, and the cgroup limits asked for.
func Build(in Input) (*specs.Spec, error) {
	cfg, hc := in.Config, in.HostConfig
	args := append([]string(nil), in.Args...)
	if hc.Init != nil && *hc.Init {
		if in.InitPath == "" {
			return nil, fmt.Errorf("--init needs docker-init (Debian package tini) in liveswapd's PATH: %w", ErrUnsupported)
		}
		args = append([]string{"/sbin/docker-init", "--"}, args...)
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: in.Root, Readonly: hc.ReadonlyRootfs},
		Hostname: in.Hostname,
		Process: &specs.Process{
			Args: args, Env: in.Env, Cwd: cwd,
			User:            specs.User{UID: in.UID, GID: in.GID, AdditionalGids: in.Groups},
			NoNewPrivileges: true,
		},
		Annotations: map[string]string{"org.liveswap.container": in.ID},
	}
	if hc.OomScoreAdj != 0 {
		s.Process.OOMScoreAdj = &hc.OomScoreAdj
	}
	seccompOn := true
	for _, o := range hc.SecurityOpt {
		switch o {
		case "no-new-privileges", "no-new-privileges:true", "no-new-privileges=true":
		case "no-new-privileges:false", "no-new-privileges=false":
			s.Process.NoNewPrivileges = false
		case "seccomp=unconfined", "seccomp:unconfined":
			seccompOn = false
		default:
			return nil, fmt.Errorf("--security-opt %q is not supported by liveswapd: it takes no-new-privileges[:true|false] and seccomp=unconfined: %w", o, ErrUnsupported)
		}
	}
	caps, err := capabilities(hc.CapAdd, hc.CapDrop)
	if err != nil {
		return nil, err
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	for _, u := range hc.Ulimits {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Hard: uint64(u.Hard), Soft: uint64(u.Soft)})
	}

	ns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.CgroupNamespace}}
	switch string(hc.NetworkMode) {
	case "none":
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	for _, m := range []struct{ flag, val string }{{"--pid", string(hc.PidMode)}, {"--ipc", string(hc.IpcMode)}, {"--uts", string(hc.UTSMode)}, {"--cgroupns", string(hc.CgroupnsMode)}} {
		switch m.val {
		case "", "private", "shareable":
		default:
			return nil, fmt.Errorf("%s %q is not supported by liveswapd: containers get their own namespace (private): %w", m.flag, m.val, ErrUnsupported)
		}
	}
	shm := "65536k"
	if hc.ShmSize > 0 {
		shm = strconv.FormatInt(hc.ShmSize/1024, 10) + "k"
	}
	s.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + shm}},
	}
	for _, f := range []struct{ src, dst string }{{in.Hosts, "/etc/hosts"}, {in.Resolv, "/etc/resolv.conf"}, {in.HostnameFile, "/etc/hostname"}} {
		if f.src != "" {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: []string{"rbind", "rprivate"}})
		}
	}
	if hc.Init != nil && *hc.Init {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sbin/docker-init", Type: "bind", Source: in.InitPath, Options: []string{"bind", "ro", "rprivate"}})
	}
	binds, err := userMounts(hc)
	if err != nil {
		return nil, err
	}
	s.Mounts = append(s.Mounts, binds...)

	res, err := resources(hc.Resources)
	if err != nil {
		return nil, err
	}
	masked, readonly := defaultMaskedPaths, defaultReadonlyPaths
	if hc.MaskedPaths != nil {
		masked = hc.MaskedPaths
	}
	if hc.ReadonlyPaths != nil {
		readonly = hc.ReadonlyPaths
	}
	s.Linux = &specs.Linux{
		Namespaces:    ns,
		CgroupsPath:   CgroupPath(in.ID),
		Resources:     res,
		MaskedPaths:   masked,
		ReadonlyPaths: readonly,
		Sysctl:        hc.Sysctls,
	}
	if seccompOn {
		sc, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, fmt.Errorf("building the default seccomp profile: %w", err)
		}
		s.Linux.Seccomp = sc
	}
	return s, nil
}

// EtcFile is a file of the container's /etc that the daemon writes into
// the container's folder and the bundle bind-mounts, as dockerd does.
type EtcFile struct{ Name, Body string }

// EtcFiles are the container's hosts, resolv.conf and hostname: on the
// host's network the host's own hosts and resolv.conf (read with readHost),
// else localhost only and no resolver; then the --add-host entries.
func EtcFiles(hc *container.HostConfig, hostname string, readHost func(path string) ([]byte, error)) ([]EtcFile, error) {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	resolv := ""
	if hc.NetworkMode.IsHost() || hc.NetworkMode.IsDefault() {
		if b, err := readHost("/etc/hosts"); err == nil {
			hosts = string(b)
		}
		if b, err := readHost("/etc/resolv.conf"); err == nil {
			resolv = string(b)
		}
	}
	for _, h := range hc.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("--add-host %q: use name:ip: %w", h, ErrInvalid)
		}
		hosts += ip + "\t" + name + "\n"
	}
	return []EtcFile{{"hosts", hosts}, {"resolv.conf", resolv}, {"hostname", hostname + "\n"}}, nil
}
