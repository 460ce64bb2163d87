package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Docker's defaults (moby oci/defaults.go, oci/caps), so a container of
// liveswapd is confined as one of dockerd's is; no-new-privileges is on by
// default here (dockerd needs --security-opt no-new-privileges).
var (
	defaultCaps = []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// allCaps is every capability runc knows by name, for --cap-add ALL.
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
	"CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// ociInput is what the OCI bundle is built from besides the container's
// create request.
type ociInput struct {
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

// cgroupPath is the container's cgroup (runc's cgroupfs driver) under
// every hierarchy.
func cgroupPath(id string) string { return "/liveswapd/" + id }

// buildOCI turns a container's create request into the OCI runtime spec
// runc runs: its own PID, mount, IPC, UTS and cgroup namespaces, the host's
// network or none, Docker's capabilities, masked paths and seccomp profile,
// no-new-privileges, and the cgroup limits asked for.
func buildOCI(spec containerSpec, in ociInput) (*specs.Spec, error) {
	cfg, hc := spec.Config, spec.HostConfig
	args := append([]string{spec.Path}, spec.Args...)
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
		Root:     &specs.Root{Path: spec.Root, Readonly: hc.ReadonlyRootfs},
		Hostname: in.Hostname,
		Process: &specs.Process{
			Args: args, Env: in.Env, Cwd: cwd,
			User:            specs.User{UID: in.UID, GID: in.GID, AdditionalGids: in.Groups},
			NoNewPrivileges: true,
		},
		Annotations: map[string]string{"org.liveswap.container": spec.ID},
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
		CgroupsPath:   cgroupPath(spec.ID),
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

// capabilities applies --cap-add and --cap-drop to Docker's default set.
func capabilities(add, drop []string) ([]string, error) {
	norm := func(c string) (string, error) {
		c = strings.ToUpper(c)
		if c == "ALL" {
			return c, nil
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		for _, k := range allCaps {
			if k == c {
				return c, nil
			}
		}
		return "", fmt.Errorf("unknown capability %q: %w", c, ErrInvalid)
	}
	have := map[string]bool{}
	for _, c := range defaultCaps {
		have[c] = true
	}
	for _, c := range drop {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			have = map[string]bool{}
			continue
		}
		delete(have, n)
	}
	for _, c := range add {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, k := range allCaps {
				have[k] = true
			}
			continue
		}
		have[n] = true
	}
	out := make([]string, 0, len(have))
	for c := range have {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

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

// resources maps --memory, --cpus, --pids-limit and friends to cgroup
// limits; runc writes them into the container's cgroup.
func resources(r container.Resources) (*specs.LinuxResources, error) {
	deny := false
	out := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: deny, Access: "rwm"}}}
	mem := &specs.LinuxMemory{}
	if r.Memory > 0 {
		if r.Memory < 6*1024*1024 {
			return nil, fmt.Errorf("--memory %s: minimum memory limit allowed is 6MB: %w", units.BytesSize(float64(r.Memory)), ErrInvalid)
		}
		mem.Limit = &r.Memory
	}
	if r.MemorySwap > 0 {
		if r.Memory == 0 || r.MemorySwap < r.Memory {
			return nil, fmt.Errorf("--memory-swap must be larger than --memory, which it needs: %w", ErrInvalid)
		}
		mem.Swap = &r.MemorySwap
	}
	if r.MemoryReservation > 0 {
		mem.Reservation = &r.MemoryReservation
	}
	if r.MemorySwappiness != nil && *r.MemorySwappiness >= 0 {
		v := uint64(*r.MemorySwappiness)
		mem.Swappiness = &v
	}
	if r.OomKillDisable != nil && *r.OomKillDisable {
		mem.DisableOOMKiller = r.OomKillDisable
	}
	if *mem != (specs.LinuxMemory{}) {
		out.Memory = mem
	}
	cpu := &specs.LinuxCPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
	if r.NanoCPUs > 0 && (r.CPUQuota != 0 || r.CPUPeriod != 0) {
		return nil, fmt.Errorf("--cpus and --cpu-quota/--cpu-period cannot be given together: %w", ErrInvalid)
	}
	if r.NanoCPUs > 0 {
		period := uint64(100000)
		quota := r.NanoCPUs * int64(period) / 1e9
		cpu.Period, cpu.Quota = &period, &quota
	}
	if r.CPUPeriod > 0 {
		p := uint64(r.CPUPeriod)
		cpu.Period = &p
	}
	if r.CPUQuota > 0 {
		cpu.Quota = &r.CPUQuota
	}
	if r.CPUShares > 0 {
		v := uint64(r.CPUShares)
		cpu.Shares = &v
	}
	if cpu.Cpus != "" || cpu.Mems != "" || cpu.Period != nil || cpu.Quota != nil || cpu.Shares != nil {
		out.CPU = cpu
	}
	if r.PidsLimit != nil && *r.PidsLimit > 0 {
		out.Pids = &specs.LinuxPids{Limit: *r.PidsLimit}
	}
	return out, nil
}
