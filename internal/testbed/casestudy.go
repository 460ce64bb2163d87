package testbed

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CaseStudy is the live-restore case study run on real Docker builds: a
// Debian 11 host (docker.io 20.10.5, containerd 1.4.13, Debian's own units)
// with live restore off, as Docker ships it, serving nginx and a redis
// cache holding keys. liveswap turns live restore on by a reload, then
// patches dockerd to Debian 12's 20.10.24 while the workloads keep serving;
// the negative control shows what the same upgrade does with live restore
// off, and that liveswap refuses it, and names the damage when forced.
type CaseStudy struct {
	Out      io.Writer
	Liveswap string // the liveswap binary to run on the host
	Keys     int    // keys the redis cache holds; default 100

	st       *Stack
	web, kv  *Workload
	plan     string
	problems []string
}

// Run plays the case study in s; it returns an error naming every step
// that did not end as expected.
func (c *CaseStudy) Run(s *Session) error {
	if c.Keys == 0 {
		c.Keys = 100
	}
	err := s.Run(c.play(s))
	if err == nil && len(c.problems) > 0 {
		err = fmt.Errorf("%s", strings.Join(c.problems, "; "))
	}
	return err
}

func (c *CaseStudy) say(format string, a ...any) {
	fmt.Fprintf(c.Out, "\n==> "+format+"\n", a...)
}

// expect records a step whose exit status differs from want.
func (c *CaseStudy) expect(step string, got, want int) {
	if got != want {
		c.problems = append(c.problems, fmt.Sprintf("%s exited %d, expected %d", step, got, want))
	}
}

// liveswap runs the liveswap CLI on the host, as its operator would,
// prints its output and returns its exit status.
func (c *CaseStudy) liveswap(s *Session, args ...string) int {
	fmt.Fprintf(c.Out, "$ liveswap %s\n", strings.Join(args, " "))
	code, out, errOut := c.st.Liveswap(s, c.Liveswap, args...)
	io.WriteString(c.Out, out)
	if code != 0 && errOut != "" {
		io.WriteString(c.Out, lastLines(errOut, 3))
	}
	fmt.Fprintf(c.Out, "(exit %d)\n", code)
	return code
}

// docker runs the docker CLI against the host's daemon and prints the
// lines that contain filter ("" for all).
func (c *CaseStudy) docker(s *Session, filter string, args ...string) {
	fmt.Fprintf(c.Out, "$ docker %s", strings.Join(args, " "))
	if filter != "" {
		fmt.Fprintf(c.Out, " | grep %q", filter)
	}
	fmt.Fprintln(c.Out)
	out, err := Docker(c.st.Host, args...)
	if err != nil {
		s.Fatalf("%v: %s", err, out)
	}
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if strings.Contains(l, filter) {
			fmt.Fprintln(c.Out, l)
		}
	}
}

func (c *CaseStudy) dbsize(s *Session) string {
	host, port, _ := strings.Cut(c.kv.Addr, ":")
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "DBSIZE").CombinedOutput()
	if err != nil {
		return "unreachable (" + strings.TrimSpace(string(out)) + ")"
	}
	return strings.TrimSpace(string(out))
}

func (c *CaseStudy) play(s *Session) func() {
	return func() {
		Require(s, DockerBin, NginxBin, RedisBin, "redis-cli", "nsenter")
		oldD, newD := FindRelease(s, "docker.io", "20.10.5"), FindRelease(s, "docker.io", "20.10.24")
		ctrd := FindRelease(s, "containerd", "1.4.13")

		c.say("a Debian 11 host: docker.io %s and containerd %s from bullseye, Debian's own units (docker.socket, docker.service -H fd://, containerd.service), live restore off as Docker ships it", oldD.Version, ctrd.Version)
		c.st = StartStack(s, StackOptions{Docker: oldD, Containerd: ctrd, Daemon: map[string]any{"live-restore": nil}})
		img := ImportImage(s, c.st.Host, c.st.Dir)
		c.web, c.kv = RunNginx(s, c.st.Host, img), RunRedis(s, c.st.Host, img)
		DockerCLI(s, c.st.Host, "update", "--restart", "always", c.kv.Name)
		FillRedis(s, c.kv, c.Keys)
		fmt.Fprintf(c.Out, "nginx %s serving on %s; redis %s on %s holding %s keys\n", c.web.Name, c.web.Addr, c.kv.Name, c.kv.Addr, c.dbsize(s))
		c.docker(s, "Live Restore", "info")

		c.say("1. turn live restore on by a reload (what the document does with 'systemctl restart docker' would stop every container now)")
		c.expect("enable-live-restore", c.liveswap(s, "enable-live-restore", "--systemd", "user", "--unit", DockerUnit, "--yes"), 0)
		c.docker(s, "Live Restore", "info")
		c.docker(s, "", "ps", "--format", "{{.Names}}\t{{.Status}}")

		ctrdNew := FindRelease(s, "containerd", "1.6.20")
		c.say("2. plan the upgrade of the stack to Debian 12: dockerd %s and containerd %s (checksum-verified new binaries, each matched to its component by its version)", newD.Version, ctrdNew.Version)
		newDockerd := filepath.Join(s.TempDir(), "dockerd")
		newCtrd := filepath.Join(s.TempDir(), "containerd")
		for src, dst := range map[string]string{newD.Path("usr/sbin/dockerd"): newDockerd, ctrdNew.Path("usr/bin/containerd"): newCtrd} {
			if err := copyFile(src, dst); err != nil {
				s.Fatalf("%v", err)
			}
		}
		binaries := []string{"--new-binary", newDockerd, "--sha256", SHA256(s, newDockerd), "--new-binary", newCtrd, "--sha256", SHA256(s, newCtrd)}
		c.plan = filepath.Join(s.TempDir(), "plan.yaml")
		c.expect("plan", c.liveswap(s, append([]string{"plan", "--systemd", "user", "--unit", DockerUnit, "-o", c.plan}, binaries...)...), 0)
		state := s.TempDir()

		c.say("3. apply it: containerd %s -> %s skips 1.5, an upgrade containerd gives no compatibility guarantee for; liveswap refuses before touching anything", ctrd.Version, ctrdNew.Version)
		c.expect("apply across two containerd minors", c.liveswap(s, "apply", c.plan, "--yes", "--state-dir", state), 1)

		c.say("4. tested on a similar host, the operator allows the minor jump: pre-flight, snapshot, stage, swap, restart containerd.service then docker.service, verify — nginx and redis probed every 20 ms")
		c.expect("plan --allow-minor", c.liveswap(s, append([]string{"plan", "--systemd", "user", "--unit", DockerUnit, "--allow-minor", "-o", c.plan}, binaries...)...), 0)
		c.expect("apply", c.liveswap(s, "apply", c.plan, "--yes", "--state-dir", state), 0)
		c.docker(s, "", "version", "--format", "dockerd {{.Server.Version}}, containerd {{range .Server.Components}}{{if eq .Name \"containerd\"}}{{.Version}}{{end}}{{end}}")
		c.docker(s, "", "ps", "--format", "{{.Names}}\t{{.Status}}")
		fmt.Fprintf(c.Out, "redis keys: %s\n", c.dbsize(s))

		c.say("negative control: live restore turned off again (reload), the same upgrade")
		cfg := map[string]any{"live-restore": false, "bridge": "none", "iptables": false, "cgroup-parent": c.st.Cgroup() + "/docker"}
		c.st.WriteDaemonJSON(s, cfg)
		c.st.ReloadUnit(s, DockerUnit)
		WaitUntil(s, "dockerd to apply the reload", 30*time.Second, func() bool {
			out, err := Docker(c.st.Host, "info", "--format", "{{.LiveRestoreEnabled}}")
			return err == nil && strings.TrimSpace(out) == "false"
		})
		c.docker(s, "Live Restore", "info")
		c.expect("apply with live restore off", c.liveswap(s, "apply", c.plan, "--yes", "--state-dir", state), 1)

		c.say("negative control, forced: the restart stops every container; liveswap must name them and the lost keys")
		c.expect("apply --force with live restore off", c.liveswap(s, "apply", c.plan, "--yes", "--force", "--state-dir", state), 4)
		WaitUntil(s, "redis restarted by its policy", 30*time.Second, func() bool { return WaitServing(c.kv, 100*time.Millisecond) == nil })
		c.docker(s, "", "ps", "-a", "--format", "{{.Names}}\t{{.Status}}")
		fmt.Fprintf(c.Out, "redis keys: %s\n", c.dbsize(s))

		if len(c.problems) == 0 {
			c.say("done: live restore turned on without a restart; dockerd %s -> %s and containerd %s -> %s with every container kept and 0 failed probes; with live restore off the upgrade was refused, and forcing it was caught, lost keys named", oldD.Version, newD.Version, ctrd.Version, ctrdNew.Version)
		}
	}
}

// FillRedis writes n keys into the workload's redis.
func FillRedis(t T, w *Workload, n int) {
	t.Helper()
	host, port, _ := strings.Cut(w.Addr, ":")
	var script strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&script, "SET key:%d value-%d\n", i, i)
	}
	cmd := exec.Command("redis-cli", "-h", host, "-p", port)
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testbed: filling %s: %v: %s", w.Name, err, out)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
