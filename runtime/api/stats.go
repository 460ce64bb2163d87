package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/liveswap/liveswap/runtime"
	"github.com/liveswap/liveswap/runtime/oci"
)

// statsInterval is how far apart two samples are: the precpu_stats of a
// non-streamed answer and the pace of a streamed one, as in dockerd.
const statsInterval = time.Second

// cgroupRoot is where the cgroup file systems are mounted (a variable so
// the unit tests can read a tree of their own).
var cgroupRoot = "/sys/fs/cgroup"

// stats serves GET /containers/{id}/stats from the container's own cgroup
// (memory, CPU, pids, block I/O) and network namespace, as docker stats and the SDKs read it: stream (the
// default) sends a sample every second; stream=false sends one with
// precpu_stats a second before it, one-shot=true one without.
func (d server) stats(w http.ResponseWriter, r *http.Request, c *runtime.Container) {
	spec, st := c.Snapshot()
	stream, oneShot := queryBool(r, "stream", true), queryBool(r, "one-shot", false)
	if spec.Root == "" {
		writeError(w, fmt.Errorf("container %s runs image host, in no cgroup of its own, so it has no figures of its own: stats is served for isolated containers (a stored image or a root folder): %w", spec.ID[:12], runtime.ErrNotImplemented))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	empty := container.StatsResponse{Name: "/" + spec.Name, ID: spec.ID}
	if st.Status != runtime.StatusRunning {
		// dockerd answers a container that is not running with one
		// zeroed sample, streamed or not.
		enc.Encode(empty)
		return
	}
	hostMem := memTotal()
	sample := func() container.StatsResponse {
		s := empty
		s.Read = time.Now().UTC()
		readCgroup(cgroupRoot, oci.CgroupPath(spec.ID), &s, hostMem)
		if spec.HostConfig != nil {
			s.Networks = networks(string(spec.HostConfig.NetworkMode), st.Pid)
		}
		s.CPUStats.SystemUsage, s.CPUStats.OnlineCPUs = systemCPU("/proc/stat")
		s.PreCPUStats.OnlineCPUs = s.CPUStats.OnlineCPUs
		return s
	}
	prev := sample()
	if !stream {
		if !oneShot {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(statsInterval):
			}
			s := sample()
			s.PreRead, s.PreCPUStats = prev.Read, prev.CPUStats
			prev = s
		}
		enc.Encode(prev)
		return
	}
	flusher, _ := w.(http.Flusher)
	if err := enc.Encode(prev); err != nil {
		return
	}
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	for {
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		if _, st := c.Snapshot(); st.Status != runtime.StatusRunning {
			return
		}
		s := sample()
		s.PreRead, s.PreCPUStats = prev.Read, prev.CPUStats
		if err := enc.Encode(s); err != nil {
			return
		}
		prev = s
	}
}

// readCgroup fills s from the cgroup at path (cgroup v2 when root holds
// cgroup.controllers, else the v1 hierarchies memory, cpuacct, cpu and
// pids). A file that cannot be read leaves its figure at zero.
func readCgroup(root, path string, s *container.StatsResponse, hostMem uint64) {
	v2 := fileExists(filepath.Join(root, "cgroup.controllers"))
	dir := func(ctrl string) string {
		if v2 {
			return filepath.Join(root, path)
		}
		return filepath.Join(root, ctrl, path)
	}
	m := &s.MemoryStats
	m.Stats = keyValues(filepath.Join(dir("memory"), "memory.stat"))
	cpu := &s.CPUStats.CPUUsage
	thr := &s.CPUStats.ThrottlingData
	if v2 {
		m.Usage = readUint(filepath.Join(dir("memory"), "memory.current"))
		m.Limit = readUint(filepath.Join(dir("memory"), "memory.max"))
		cs := keyValues(filepath.Join(dir("cpu"), "cpu.stat"))
		cpu.TotalUsage, cpu.UsageInUsermode, cpu.UsageInKernelmode = cs["usage_usec"]*1000, cs["user_usec"]*1000, cs["system_usec"]*1000
		thr.Periods, thr.ThrottledPeriods, thr.ThrottledTime = cs["nr_periods"], cs["nr_throttled"], cs["throttled_usec"]*1000
	} else {
		m.Usage = readUint(filepath.Join(dir("memory"), "memory.usage_in_bytes"))
		m.MaxUsage = readUint(filepath.Join(dir("memory"), "memory.max_usage_in_bytes"))
		m.Failcnt = readUint(filepath.Join(dir("memory"), "memory.failcnt"))
		m.Limit = readUint(filepath.Join(dir("memory"), "memory.limit_in_bytes"))
		cpu.TotalUsage = readUint(filepath.Join(dir("cpuacct"), "cpuacct.usage"))
		for _, f := range strings.Fields(readString(filepath.Join(dir("cpuacct"), "cpuacct.usage_percpu"))) {
			n, _ := strconv.ParseUint(f, 10, 64)
			cpu.PercpuUsage = append(cpu.PercpuUsage, n)
		}
		// cpuacct.stat counts USER_HZ (100 a second) ticks.
		ticks := keyValues(filepath.Join(dir("cpuacct"), "cpuacct.stat"))
		cpu.UsageInUsermode, cpu.UsageInKernelmode = ticks["user"]*1e7, ticks["system"]*1e7
		cs := keyValues(filepath.Join(dir("cpu"), "cpu.stat"))
		thr.Periods, thr.ThrottledPeriods, thr.ThrottledTime = cs["nr_periods"], cs["nr_throttled"], cs["throttled_time"]
	}
	// No limit reads as "max" (v2) or a page-rounded 2^63 (v1): report
	// the host's memory, as dockerd does.
	if hostMem > 0 && (m.Limit == 0 || m.Limit > hostMem) {
		m.Limit = hostMem
	}
	s.PidsStats.Current = readUint(filepath.Join(dir("pids"), "pids.current"))
	s.PidsStats.Limit = readUint(filepath.Join(dir("pids"), "pids.max"))
	b := &s.BlkioStats
	if v2 {
		b.IoServiceBytesRecursive, b.IoServicedRecursive = ioStat(filepath.Join(dir("io"), "io.stat"))
	} else {
		// v1 charges only the I/O the cgroup's own processes issue, not
		// the flusher's later writeback of their buffered writes.
		b.IoServiceBytesRecursive = blkioEntries(filepath.Join(dir("blkio"), "blkio.throttle.io_service_bytes_recursive"))
		b.IoServicedRecursive = blkioEntries(filepath.Join(dir("blkio"), "blkio.throttle.io_serviced_recursive"))
	}
}

// blkioEntries reads a cgroup v1 blkio file of "MAJOR:MINOR Op value"
// lines (the closing "Total N" line is no device's and is skipped).
func blkioEntries(path string) []container.BlkioStatEntry {
	var out []container.BlkioStatEntry
	for _, line := range strings.Split(readString(path), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		major, minor, ok := device(f[0])
		n, err := strconv.ParseUint(f[2], 10, 64)
		if ok && err == nil {
			out = append(out, container.BlkioStatEntry{Major: major, Minor: minor, Op: f[1], Value: n})
		}
	}
	return out
}

// ioStat reads cgroup v2 io.stat ("MAJOR:MINOR rbytes=N wbytes=N rios=N
// wios=N ...") into bytes and operations entries, "read" and "write", as
// dockerd maps them.
func ioStat(path string) (bytes, ios []container.BlkioStatEntry) {
	for _, line := range strings.Split(readString(path), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		major, minor, ok := device(f[0])
		if !ok {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := func(op string) container.BlkioStatEntry {
				return container.BlkioStatEntry{Major: major, Minor: minor, Op: op, Value: n}
			}
			switch k {
			case "rbytes":
				bytes = append(bytes, e("read"))
			case "wbytes":
				bytes = append(bytes, e("write"))
			case "rios":
				ios = append(ios, e("read"))
			case "wios":
				ios = append(ios, e("write"))
			}
		}
	}
	return bytes, ios
}

func device(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	major, err1 := strconv.ParseUint(a, 10, 64)
	minor, err2 := strconv.ParseUint(b, 10, 64)
	return major, minor, found && err1 == nil && err2 == nil
}

// procRoot is where /proc is (a variable so the unit tests can read
// fixtures).
var procRoot = "/proc"

// networks returns the interfaces of a --network none container: its own
// namespace, read from /proc/PID/net/dev of its process (loopback only, so
// only traffic inside the container shows). A host-network container gets
// none, as from dockerd: the host's interfaces are not the container's. A
// process found in the daemon's own namespace is not counted either.
func networks(mode string, pid int) map[string]container.NetworkStats {
	if mode != "none" || pid <= 0 {
		return nil
	}
	proc := filepath.Join(procRoot, strconv.Itoa(pid))
	own, err1 := os.Readlink(filepath.Join(proc, "ns", "net"))
	self, err2 := os.Readlink(filepath.Join(procRoot, "self", "ns", "net"))
	if err1 != nil || err2 != nil || own == self {
		return nil
	}
	return netDev(filepath.Join(proc, "net", "dev"))
}

// netDev reads a /proc/net/dev table: after two header lines, "name:"
// then 8 receive and 8 transmit counters.
func netDev(path string) map[string]container.NetworkStats {
	var out map[string]container.NetworkStats
	for _, line := range strings.Split(readString(path), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		f := strings.Fields(rest)
		if !ok || len(f) < 16 {
			continue
		}
		var n [16]uint64
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		if out == nil {
			out = map[string]container.NetworkStats{}
		}
		out[strings.TrimSpace(name)] = container.NetworkStats{RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11]}
	}
	return out
}

// systemCPU returns the host's CPU time in nanoseconds (the cpu line of
// /proc/stat, in USER_HZ ticks) and the number of CPUs listed there.
func systemCPU(path string) (ns uint64, cpus uint32) {
	for _, line := range strings.Split(readString(path), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 1 && f[0] == "cpu":
			for _, v := range f[1:8] {
				n, _ := strconv.ParseUint(v, 10, 64)
				ns += n * 1e7
			}
		case len(f) > 0 && strings.HasPrefix(f[0], "cpu"):
			cpus++
		}
	}
	return ns, cpus
}

func memTotal() uint64 {
	for _, line := range strings.Split(readString("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n * 1024
		}
	}
	return 0
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// readUint reads a number; "max" and what is not a number read as 0.
func readUint(path string) uint64 {
	n, _ := strconv.ParseUint(readString(path), 10, 64)
	return n
}

// keyValues reads a file of "key value" lines (memory.stat, cpu.stat).
func keyValues(path string) map[string]uint64 {
	out := map[string]uint64{}
	for _, line := range strings.Split(readString(path), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				out[f[0]] = n
			}
		}
	}
	return out
}

// queryBool reads a boolean query parameter as dockerd does: absent is def;
// "", "0", "no", "false" and "none", in any case, are false (docker-py
// sends "False"); anything else is true.
func queryBool(r *http.Request, key string, def bool) bool {
	if !r.URL.Query().Has(key) {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}
