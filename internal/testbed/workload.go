package testbed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/internal/host/probe"
)

// Workload is a container serving on a loopback port.
type Workload struct {
	Name string
	ID   string
	Kind probe.Kind // http (nginx) or redis
	Addr string     // 127.0.0.1:PORT
}

// Target is the probe target: a URL for nginx, HOST:PORT for redis.
func (w *Workload) Target() string {
	if w.Kind == probe.HTTP {
		return "http://" + w.Addr + "/"
	}
	return w.Addr
}

// Spec is a probe of this workload at interval.
// An attempt may take up to 1 s, as liveswap's own probes allow: on this
// 2-core machine a host-wide stall (dpkg's fsyncs while a package installs)
// delays every process by up to ~750 ms without interrupting any; a
// stopped or restarted workload still fails at once (connection refused).
func (w *Workload) Spec(interval time.Duration) probe.Spec {
	return probe.Spec{Name: w.Name, Kind: w.Kind, Target: w.Target(), Interval: interval, Timeout: time.Second}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t T) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return port
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// NginxConf renders an nginx.conf serving "ok" on port, with every path it
// writes inside dir.
func NginxConf(dir string, port int) string {
	return fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  server {
    listen 127.0.0.1:%[2]d;
    location / { return 200 "ok\n"; }
  }
}
`, dir, port)
}

// RunNginx runs nginx in a container of the daemon at host. With image
// "host" (liveswapd) the container sees the host's files; with a built image
// the config folder is bind-mounted.
func RunNginx(t T, host, image string) *Workload {
	t.Helper()
	port := FreePort(t)
	dir := shortDir(t, "lsn-")
	os.Chmod(dir, 0o755)
	cmd, err := nginxCommand(dir, port)
	if err != nil {
		t.Fatalf("%v", err)
	}
	name := fmt.Sprintf("nginx-%04d", rand.IntN(1e4))
	args := []string{"run", "-d", "--name", name, "--network", "host"}
	if image != "host" {
		args = append(args, "-v", dir+":"+dir)
	}
	args = append(append(args, image), cmd...)
	return run(t, host, name, probe.HTTP, port, args)
}

// nginxCommand writes dir/nginx.conf for port and returns the command line
// that serves it.
func nginxCommand(dir string, port int) ([]string, error) {
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(NginxConf(dir, port)), 0o644); err != nil {
		return nil, err
	}
	return []string{NginxBin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf}, nil
}

// RunRedis runs redis-server in a container of the daemon at host.
func RunRedis(t T, host, image string) *Workload {
	t.Helper()
	port := FreePort(t)
	name := fmt.Sprintf("redis-%04d", rand.IntN(1e4))
	args := append([]string{"run", "-d", "--name", name, "--network", "host", image}, redisCommand(port)...)
	return run(t, host, name, probe.Redis, port, args)
}

// redisCommand is a redis-server on loopback port that keeps nothing on disk.
func redisCommand(port int) []string {
	return []string{RedisBin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--daemonize", "no", "--dir", "/tmp"}
}

func run(t T, host, name string, kind probe.Kind, port int, args []string) *Workload {
	t.Helper()
	out := DockerCLI(t, host, args...)
	w := &Workload{Name: name, ID: strings.TrimSpace(out), Kind: kind, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	t.Cleanup(func() { Docker(host, "rm", "-f", name) })
	if err := WaitServing(w, 20*time.Second); err != nil {
		logs, _ := Docker(host, "logs", name)
		t.Fatalf("testbed: %s never served on %s: %v\nlogs:\n%s", name, w.Addr, err, logs)
	}
	return w
}

// WaitServing waits until a single probe of w succeeds.
func WaitServing(w *Workload, timeout time.Duration) error {
	return waitServing(context.Background(), w.Spec(0), timeout)
}

func waitServing(ctx context.Context, spec probe.Spec, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := probe.Check(ctx, spec)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RedisRunID returns the run_id Redis picks at start: a restarted redis has
// a new one.
func RedisRunID(t T, w *Workload) string {
	t.Helper()
	info, err := probe.RedisInfo(context.Background(), w.Addr, "server")
	if err != nil {
		t.Fatalf("testbed: INFO server on %s: %v", w.Addr, err)
	}
	return info["run_id"]
}
