package runtime

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// The create request's fields liveswapd honours. Every other field that is
// set is refused with the flag that sets it, never accepted and ignored.
// Fields the docker CLI always sends with their zero value pass (see set).

// isolatedFields are honoured for containers of a root folder image, which
// run through runc (package runtime/oci).
var isolatedFields = fieldSet(
	// Config
	"Hostname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce",
	"ExposedPorts", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels",
	"StopSignal", "StopTimeout", "ArgsEscaped", "Shell", "Healthcheck",
	// HostConfig
	"Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove",
	"ConsoleSize", "CapAdd", "CapDrop", "CgroupnsMode", "ExtraHosts", "GroupAdd", "IpcMode", "OomScoreAdj",
	"PidMode", "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "Tmpfs", "UTSMode",
	"ShmSize", "Sysctls", "Isolation", "Mounts", "MaskedPaths", "ReadonlyPaths", "Init", "Runtime",
	// HostConfig.Resources
	"CPUShares", "Memory", "NanoCPUs", "CPUPeriod", "CPUQuota", "CpusetCpus", "CpusetMems",
	"MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable", "PidsLimit", "Ulimits",
)

// hostFields are honoured for containers of image "host", which run
// unisolated on the host (the allow-host-image opt-in).
var hostFields = fieldSet(
	"User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce",
	"ExposedPorts", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels",
	"StopSignal", "StopTimeout", "ArgsEscaped", "Shell", "Healthcheck",
	"Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove",
	"ConsoleSize", "Privileged", "PublishAllPorts", "Isolation", "Mounts", "Runtime",
)

// flagNames names the docker CLI flag of a field, for the error.
var flagNames = map[string]string{
	"Hostname": "--hostname", "Domainname": "--domainname", "MacAddress": "--mac-address",
	"Healthcheck": "--health-cmd (or the image's HEALTHCHECK: --no-healthcheck turns it off)", "NetworkDisabled": "NetworkDisabled",
	"VolumeDriver": "--volume-driver", "VolumesFrom": "--volumes-from", "Annotations": "--annotation",
	"CapAdd": "--cap-add", "CapDrop": "--cap-drop", "DNS": "--dns", "DNSOptions": "--dns-option",
	"DNSSearch": "--dns-search", "ExtraHosts": "--add-host", "GroupAdd": "--group-add", "IpcMode": "--ipc",
	"Cgroup": "--cgroup", "CgroupnsMode": "--cgroupns", "Links": "--link", "OomScoreAdj": "--oom-score-adj",
	"PidMode": "--pid", "ReadonlyRootfs": "--read-only", "SecurityOpt": "--security-opt",
	"StorageOpt": "--storage-opt", "Tmpfs": "--tmpfs", "UTSMode": "--uts", "UsernsMode": "--userns",
	"ShmSize": "--shm-size", "Sysctls": "--sysctl", "Runtime": "--runtime", "Init": "--init",
	"CPUShares": "--cpu-shares", "Memory": "--memory", "NanoCPUs": "--cpus", "CgroupParent": "--cgroup-parent",
	"BlkioWeight": "--blkio-weight", "BlkioWeightDevice": "--blkio-weight-device",
	"BlkioDeviceReadBps": "--device-read-bps", "BlkioDeviceWriteBps": "--device-write-bps",
	"BlkioDeviceReadIOps": "--device-read-iops", "BlkioDeviceWriteIOps": "--device-write-iops",
	"CPUPeriod": "--cpu-period", "CPUQuota": "--cpu-quota", "CPURealtimePeriod": "--cpu-rt-period",
	"CPURealtimeRuntime": "--cpu-rt-runtime", "CpusetCpus": "--cpuset-cpus", "CpusetMems": "--cpuset-mems",
	"Devices": "--device", "DeviceCgroupRules": "--device-cgroup-rule", "DeviceRequests": "--gpus",
	"KernelMemory": "--kernel-memory", "KernelMemoryTCP": "KernelMemoryTCP",
	"MemoryReservation": "--memory-reservation", "MemorySwap": "--memory-swap",
	"MemorySwappiness": "--memory-swappiness", "OomKillDisable": "--oom-kill-disable",
	"PidsLimit": "--pids-limit", "Ulimits": "--ulimit", "CPUCount": "--cpu-count", "CPUPercent": "--cpu-percent",
	"IOMaximumIOps": "--io-maxiops", "IOMaximumBandwidth": "--io-maxbandwidth",
	"MaskedPaths": "MaskedPaths", "ReadonlyPaths": "ReadonlyPaths", "PublishAllPorts": "--publish-all",
}

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// refuseUnsupported returns an ErrUnsupported error naming every field of
// cfg and hc that is set but not in allowed, with its flag.
func refuseUnsupported(cfg *container.Config, hc *container.HostConfig, allowed map[string]bool, why string) error {
	var bad []string
	collect := func(v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous || !f.IsExported() || allowed[f.Name] {
				continue
			}
			if set(f.Name, v.Field(i)) {
				name := flagNames[f.Name]
				if name == "" {
					name = f.Name
				}
				bad = append(bad, name)
			}
		}
	}
	if cfg != nil {
		collect(reflect.ValueOf(*cfg))
	}
	if hc != nil {
		collect(reflect.ValueOf(*hc))
		collect(reflect.ValueOf(hc.Resources))
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("%s not supported by liveswapd%s; remove %s: %w", strings.Join(bad, ", "), why, plural(len(bad), "it", "them"), ErrUnsupported)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// set reports whether a field holds a value a client chose: the docker CLI
// sends empty lists, MemorySwappiness -1, OomKillDisable false and
// Isolation "default" when nothing was asked.
func set(name string, v reflect.Value) bool {
	switch name {
	case "MemorySwappiness":
		return !v.IsNil() && v.Elem().Int() != -1
	case "Isolation":
		return v.String() != "" && v.String() != "default"
	case "Healthcheck":
		// --no-healthcheck (Test NONE) asks for nothing.
		h, _ := v.Interface().(*container.HealthConfig)
		return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	case reflect.Pointer:
		return !v.IsNil() && !v.Elem().IsZero()
	}
	return !v.IsZero()
}
