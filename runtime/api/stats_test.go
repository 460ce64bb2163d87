package api

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/container"
)

// TestReadCgroup reads a container's figures from cgroup v1 and v2 trees
// as the kernel lays them out.
func TestReadCgroup(t *testing.T) {
	const host = 8 << 30
	vda := func(op string, n uint64) container.BlkioStatEntry {
		return container.BlkioStatEntry{Major: 254, Minor: 0, Op: op, Value: n}
	}
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  container.StatsResponse
	}{
		{"v1 with limits", map[string]string{
			"memory/liveswapd/c/memory.usage_in_bytes":     "1048576",
			"memory/liveswapd/c/memory.max_usage_in_bytes": "2097152",
			"memory/liveswapd/c/memory.limit_in_bytes":     "67108864",
			"memory/liveswapd/c/memory.failcnt":            "3",
			"memory/liveswapd/c/memory.stat":               "cache 4096\ntotal_inactive_file 4096\n",
			"cpuacct/liveswapd/c/cpuacct.usage":            "5000000",
			"cpuacct/liveswapd/c/cpuacct.usage_percpu":     "3000000 2000000 ",
			"cpuacct/liveswapd/c/cpuacct.stat":             "user 1\nsystem 2\n",
			"cpu/liveswapd/c/cpu.stat":                     "nr_periods 10\nnr_throttled 4\nthrottled_time 900\n",
			"pids/liveswapd/c/pids.current":                "2",
			"pids/liveswapd/c/pids.max":                    "50",
			// As this machine's kernel writes them.
			"blkio/liveswapd/c/blkio.throttle.io_service_bytes_recursive": "254:0 Read 4096\n254:0 Write 7413760\n254:0 Sync 7413760\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 7417856\nTotal 7417856\n",
			"blkio/liveswapd/c/blkio.throttle.io_serviced_recursive":      "254:0 Read 1\n254:0 Write 536\n254:0 Total 537\nTotal 537\n",
		}, container.StatsResponse{
			MemoryStats: container.MemoryStats{Usage: 1 << 20, MaxUsage: 2 << 20, Limit: 64 << 20, Failcnt: 3, Stats: map[string]uint64{"cache": 4096, "total_inactive_file": 4096}},
			CPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 5000000, PercpuUsage: []uint64{3000000, 2000000}, UsageInUsermode: 1e7, UsageInKernelmode: 2e7},
				ThrottlingData: container.ThrottlingData{Periods: 10, ThrottledPeriods: 4, ThrottledTime: 900}},
			PidsStats: container.PidsStats{Current: 2, Limit: 50},
			BlkioStats: container.BlkioStats{
				IoServiceBytesRecursive: []container.BlkioStatEntry{vda("Read", 4096), vda("Write", 7413760), vda("Sync", 7413760), vda("Async", 0), vda("Discard", 0), vda("Total", 7417856)},
				IoServicedRecursive:     []container.BlkioStatEntry{vda("Read", 1), vda("Write", 536), vda("Total", 537)},
			},
		}},
		{"v1 blkio of a cgroup that did no I/O reads Total 0: no entries", map[string]string{
			"blkio/liveswapd/c/blkio.throttle.io_service_bytes_recursive": "Total 0\n",
			"memory/liveswapd/c/memory.limit_in_bytes":                    "67108864",
		}, container.StatsResponse{MemoryStats: container.MemoryStats{Limit: 64 << 20, Stats: map[string]uint64{}}}},
		{"v1 without limits reports the host's memory", map[string]string{
			"memory/liveswapd/c/memory.usage_in_bytes": "1048576",
			"memory/liveswapd/c/memory.limit_in_bytes": "9223372036854771712",
			"pids/liveswapd/c/pids.max":                "max",
		}, container.StatsResponse{MemoryStats: container.MemoryStats{Usage: 1 << 20, Limit: host, Stats: map[string]uint64{}}}},
		{"v2", map[string]string{
			"cgroup.controllers":         "cpu memory pids",
			"liveswapd/c/memory.current": "3145728",
			"liveswapd/c/memory.max":     "max",
			"liveswapd/c/memory.stat":    "anon 2097152\ninactive_file 8192\n",
			"liveswapd/c/cpu.stat":       "usage_usec 7\nuser_usec 4\nsystem_usec 3\nnr_periods 2\nnr_throttled 1\nthrottled_usec 5\n",
			"liveswapd/c/pids.current":   "4",
			"liveswapd/c/pids.max":       "100",
			"liveswapd/c/io.stat":        "254:0 rbytes=8192 wbytes=5000000 rios=2 wios=40 dbytes=0 dios=0\n",
		}, container.StatsResponse{
			MemoryStats: container.MemoryStats{Usage: 3 << 20, Limit: host, Stats: map[string]uint64{"anon": 2 << 20, "inactive_file": 8192}},
			CPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 7000, UsageInUsermode: 4000, UsageInKernelmode: 3000},
				ThrottlingData: container.ThrottlingData{Periods: 2, ThrottledPeriods: 1, ThrottledTime: 5000}},
			PidsStats: container.PidsStats{Current: 4, Limit: 100},
			BlkioStats: container.BlkioStats{
				IoServiceBytesRecursive: []container.BlkioStatEntry{vda("read", 8192), vda("write", 5000000)},
				IoServicedRecursive:     []container.BlkioStatEntry{vda("read", 2), vda("write", 40)},
			},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(root, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var got container.StatsResponse
			readCgroup(root, "/liveswapd/c", &got, host)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSystemCPU(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	os.WriteFile(p, []byte("cpu  10 0 20 300 5 0 1 0 0 0\ncpu0 5 0 10 150 2 0 1 0 0 0\ncpu1 5 0 10 150 3 0 0 0 0 0\nintr 1\n"), 0o644)
	if ns, n := systemCPU(p); ns != 336*1e7 || n != 2 {
		t.Errorf("systemCPU = %d ns, %d CPUs; want %d, 2", ns, n, uint64(336*1e7))
	}
}

func TestQueryBool(t *testing.T) {
	for _, tt := range []struct {
		query string
		def   bool
		want  bool
	}{
		{"", true, true}, {"", false, false}, {"stream=False", true, false}, {"stream=0", true, false},
		{"stream=no", true, false}, {"stream=", true, false}, {"stream=True", false, true}, {"stream=1", false, true},
	} {
		r, _ := http.NewRequest("GET", "/containers/x/stats?"+tt.query, nil)
		if got := queryBool(r, "stream", tt.def); got != tt.want {
			t.Errorf("%q (default %v) = %v, want %v", tt.query, tt.def, got, tt.want)
		}
	}
}

// TestNetworks reads a --network none container's own interfaces from
// /proc/PID/net/dev; a host-network container, or a process in the
// daemon's own namespace, has none.
func TestNetworks(t *testing.T) {
	proc := t.TempDir()
	for _, d := range []string{"self/ns", "42/ns", "42/net", "7/ns", "7/net"} {
		os.MkdirAll(filepath.Join(proc, d), 0o755)
	}
	os.Symlink("net:[4026531840]", filepath.Join(proc, "self/ns/net"))
	os.Symlink("net:[4026532999]", filepath.Join(proc, "42/ns/net"))
	os.Symlink("net:[4026531840]", filepath.Join(proc, "7/ns/net"))
	dev := "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
		"    lo:    1130      12    0    0    0     0          0         0     1130      12    0    0    0     0       0          0\n"
	os.WriteFile(filepath.Join(proc, "42/net/dev"), []byte(dev), 0o644)
	os.WriteFile(filepath.Join(proc, "7/net/dev"), []byte(dev), 0o644)
	defer func(old string) { procRoot = old }(procRoot)
	procRoot = proc
	lo := map[string]container.NetworkStats{"lo": {RxBytes: 1130, RxPackets: 12, TxBytes: 1130, TxPackets: 12}}
	for _, tt := range []struct {
		name string
		mode string
		pid  int
		want map[string]container.NetworkStats
	}{
		{"none: its own namespace, loopback", "none", 42, lo},
		{"host: the host's interfaces are not the container's", "host", 42, nil},
		{"default is host's", "default", 42, nil},
		{"none but in the daemon's namespace", "none", 7, nil},
		{"not started", "none", 0, nil},
		{"gone", "none", 99, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := networks(tt.mode, tt.pid); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("networks(%s, %d) = %+v, want %+v", tt.mode, tt.pid, got, tt.want)
			}
		})
	}
}
