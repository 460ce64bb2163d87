package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/host/procfs"
	"github.com/liveswap/liveswap/internal/testbed"
)

// composeCLI runs Debian trixie's Compose v2 (e2e/releases.sh unpacks it,
// nothing is installed) as the docker CLI's plugin, against one daemon.
type composeCLI struct {
	t         *testing.T
	host, cfg string
	dir, proj string
	extraEnv  []string
}

func newComposeCLI(t *testing.T, host string) *composeCLI {
	t.Helper()
	rel := testbed.FindRelease(t, "docker-compose", "2.26.1-4")
	cfg := t.TempDir()
	os.MkdirAll(filepath.Join(cfg, "cli-plugins"), 0o755)
	if err := os.Symlink(rel.Path("usr/libexec/docker/cli-plugins/docker-compose"), filepath.Join(cfg, "cli-plugins", "docker-compose")); err != nil {
		t.Fatal(err)
	}
	return &composeCLI{t: t, host: host, cfg: cfg}
}

// run is `docker compose -p PROJ ARGS` in the project's folder; it returns
// the output (stdout then stderr) and the exit code.
func (c *composeCLI) run(args ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbed.DockerBin, append([]string{"--config", c.cfg, "-H", c.host, "compose", "--ansi", "never", "-p", c.proj}, args...)...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), append([]string{"DOCKER_HOST=", "DOCKER_CONTEXT="}, c.extraEnv...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	out := strings.TrimSpace(o.String() + e.String())
	c.t.Logf("%q docker compose -p %s %s: exit %d\n%s", c.extraEnv, c.proj, strings.Join(args, " "), code, out)
	return out, code
}

// project writes compose.yaml into a new folder under a new project name.
func (c *composeCLI) project(yaml string) {
	c.t.Helper()
	c.dir = c.t.TempDir()
	c.proj = fmt.Sprintf("lscompose%04d", rand.IntN(1e4))
	if err := os.WriteFile(filepath.Join(c.dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// projectContainers is the docker CLI's own view (not compose's) of the
// project's containers, stopped ones included.
func projectContainers(t *testing.T, host, proj string) []string {
	t.Helper()
	return strings.Fields(testbed.DockerCLI(t, host, "ps", "-aq", "--filter", "label=com.docker.compose.project="+proj))
}

// TestLiveswapdCompose drives Compose v2 2.26.1 (Debian trixie's build,
// extracted, nobody here wrote it) against a real liveswapd: up -d of an
// nginx + redis file with network_mode host from an image docker load read
// from an archive; both answer the test's own HTTP GET and PING; ps lists
// them running, logs shows each one's output, a second up -d keeps them,
// down removes them (docker CLI and /proc witnesses). Then files liveswapd cannot run are refused, each
// with its way out, leaving no container: ports: (a project network) and
// build: (BuildKit's default and the classic builder).
func TestLiveswapdCompose(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin, "/usr/sbin/runc")
	_, l := liveswapdWithImage(t, "lsd-compose:1", dockerspec.DockerOCIImageConfig{})
	c := newComposeCLI(t, l.Host)
	if out, code := c.run("version"); code != 0 || !strings.Contains(out, "2.26.1") {
		t.Fatalf("docker compose version: exit %d %q, want Compose 2.26.1", code, out)
	}

	// nginx logs each request to its stdout, so compose logs has a line of
	// the test's own GET; its pid file and temp folders are in a bind.
	webPort, kvPort := testbed.FreePort(t), testbed.FreePort(t)
	nginxDir := t.TempDir()
	os.Chmod(nginxDir, 0o755)
	conf := strings.Replace(testbed.NginxConf(nginxDir, webPort), "access_log off;", "access_log /dev/stdout;", 1)
	os.WriteFile(filepath.Join(nginxDir, "nginx.conf"), []byte(conf), 0o644)
	c.project(fmt.Sprintf(`services:
  web:
    image: lsd-compose:1
    network_mode: host
    volumes:
      - %[1]s:%[1]s
    command: [%[2]q, "-p", %[1]q, "-c", "%[1]s/nginx.conf"]
  kv:
    image: lsd-compose:1
    network_mode: host
    command: [%[3]q, "--port", "%[4]d", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", "/tmp"]
`, nginxDir, testbed.NginxBin, testbed.RedisBin, kvPort))
	t.Cleanup(func() {
		if ids := projectContainers(t, l.Host, c.proj); len(ids) > 0 {
			testbed.Docker(l.Host, append([]string{"rm", "-f"}, ids...)...)
		}
	})

	start := time.Now()
	if _, code := c.run("up", "-d"); code != 0 {
		t.Fatalf("compose up -d: exit %d\n%s", code, l.Log())
	}
	web := &testbed.Workload{Name: c.proj + "-web-1", Kind: probe.HTTP, Addr: "127.0.0.1:" + strconv.Itoa(webPort)}
	kv := &testbed.Workload{Name: c.proj + "-kv-1", Kind: probe.Redis, Addr: "127.0.0.1:" + strconv.Itoa(kvPort)}
	for _, w := range []*testbed.Workload{web, kv} {
		// A real HTTP GET and a real PING, from the test.
		if err := testbed.WaitServing(w, 20*time.Second); err != nil {
			out, _ := testbed.Docker(l.Host, "logs", w.Name)
			t.Fatalf("%s never served: %v\n%s", w.Name, err, out)
		}
	}
	resp, err := http.Get("http://" + web.Addr + "/from-the-compose-test")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("up -d to both serving: %v; GET /from-the-compose-test: %d %q", time.Since(start).Round(time.Millisecond), resp.StatusCode, body)

	// ps: both services, running (its JSON lines, one per container).
	out, code := c.run("ps", "--format", "json")
	running := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		var row struct{ Service, State, Name string }
		if json.Unmarshal([]byte(line), &row) == nil && row.Service != "" {
			running[row.Service] = row.State + " " + row.Name
		}
	}
	if code != 0 || running["web"] != "running "+web.Name || running["kv"] != "running "+kv.Name {
		t.Errorf("compose ps: exit %d, services %v; want web and kv running", code, running)
	}
	c.run("ps")

	// logs: each service's own output, under its name ("web-1  | ...";
	// compose pads the names to the widest one it has seen).
	want := map[string][]string{"web-1": {`"GET /from-the-compose-test HTTP/1.1" 200`}, "kv-1": {"Ready to accept connections", "port=" + strconv.Itoa(kvPort)}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, code = c.run("logs", "--no-color")
		lines := map[string]string{}
		for _, line := range strings.Split(strings.ReplaceAll(out, "\x1b[2K", ""), "\n") {
			if name, text, ok := strings.Cut(line, "|"); ok {
				lines[strings.TrimSpace(name)] += text + "\n"
			}
		}
		missing := ""
		for svc, ws := range want {
			for _, w := range ws {
				if !strings.Contains(lines[svc], w) {
					missing = svc + ": " + w
				}
			}
		}
		if code == 0 && missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("compose logs: exit %d, no %q in it", code, missing)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// down: the containers go (docker CLI), their processes end (/proc).
	type proc struct {
		pid   int
		start uint64
	}
	var procs []proc
	for _, w := range []*testbed.Workload{web, kv} {
		pid, _ := strconv.Atoi(strings.TrimSpace(testbed.DockerCLI(t, l.Host, "inspect", "--format", "{{.State.Pid}}", w.Name)))
		if pid <= 0 || !procfs.Alive(pid) {
			t.Fatalf("%s: pid %d not alive before down", w.Name, pid)
		}
		procs = append(procs, proc{pid, procfs.StartTime(pid)})
	}
	// A second up -d finds the project by its labels and config hash, as
	// it would on dockerd: nothing is recreated.
	if out, code := c.run("up", "-d"); code != 0 || strings.Contains(out, "Recreate") || strings.Contains(out, "Creating") {
		t.Errorf("second compose up -d: exit %d %q, want the running containers kept", code, out)
	}
	for i, w := range []*testbed.Workload{web, kv} {
		if pid := strings.TrimSpace(testbed.DockerCLI(t, l.Host, "inspect", "--format", "{{.State.Pid}}", w.Name)); pid != strconv.Itoa(procs[i].pid) || procfs.StartTime(procs[i].pid) != procs[i].start {
			t.Errorf("%s: pid %s after the second up -d, was %d", w.Name, pid, procs[i].pid)
		}
	}
	if _, code := c.run("down"); code != 0 {
		t.Errorf("compose down: exit %d\n%s", code, l.Log())
	}
	if ids := projectContainers(t, l.Host, c.proj); len(ids) != 0 {
		t.Errorf("docker ps -a after compose down: %v, want none of project %s", ids, c.proj)
	}
	deadline = time.Now().Add(5 * time.Second)
	for _, p := range procs {
		// down waits for the stop; the deadline only covers the reaping.
		for procfs.Alive(p.pid) && procfs.StartTime(p.pid) == p.start && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if procfs.Alive(p.pid) && procfs.StartTime(p.pid) == p.start {
			t.Errorf("pid %d (%v) still alive after compose down", p.pid, procfs.Cmdline(p.pid))
		}
	}
	for _, w := range []*testbed.Workload{web, kv} {
		if err := probe.Check(context.Background(), w.Spec(0)); err == nil {
			t.Errorf("%s still answers at %s after compose down", w.Name, w.Addr)
		}
	}

	// Files liveswapd cannot run: refused, with the way out, and nothing is
	// left behind (docker CLI witness).
	cases := []struct {
		name, yaml string
		env        []string
		want       []string
	}{
		{"ports: needs a project network", fmt.Sprintf(`services:
  web:
    image: lsd-compose:1
    ports: ["%d:80"]
    command: ["/bin/sleep", "60"]
  kv:
    image: lsd-compose:1
    network_mode: host
    command: ["/bin/sleep", "60"]
`, testbed.FreePort(t)), nil, []string{"POST /networks/create", "not implemented by liveswapd", "network_mode: host"}},
		{"build: with BuildKit (the default)", "services:\n  app:\n    build: .\n    network_mode: host\n", nil,
			[]string{"liveswapd pulls from no registry", "an image build, which liveswapd does not do"}},
		{"build: with the classic builder", "services:\n  app:\n    build: .\n    network_mode: host\n", []string{"DOCKER_BUILDKIT=0"},
			[]string{"POST /build", "builds no images", "docker load"}},
	}
	for _, tc := range cases {
		c.project(tc.yaml)
		os.WriteFile(filepath.Join(c.dir, "Dockerfile"), []byte("FROM scratch\nCOPY compose.yaml /\n"), 0o644)
		c.extraEnv = tc.env
		out, code := c.run("up", "-d")
		c.extraEnv = nil
		for _, w := range tc.want {
			if code == 0 || !strings.Contains(out, w) {
				t.Errorf("%s: compose up -d exit %d, want refused with %q", tc.name, code, w)
			}
		}
		if all := strings.Fields(testbed.DockerCLI(t, l.Host, "ps", "-aq")); len(all) != 0 {
			t.Errorf("%s: docker ps -a after the refusal: %v, want no container", tc.name, all)
		}
	}
	t.Logf("compose test: %v", time.Since(start).Round(time.Millisecond))
}
