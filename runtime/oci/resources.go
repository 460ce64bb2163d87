package oci

import (
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
)

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
