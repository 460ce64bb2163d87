package e2e

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/liveswap/liveswap/internal/host/probe"
	"github.com/liveswap/liveswap/internal/testbed"
)

// tarFolder writes dir as a layer tar to w (symlinks kept, owners and
// modes from the files).
func tarFolder(t *testing.T, dir string, w io.Writer) {
	t.Helper()
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name, _ = filepath.Rel(dir, p)
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// saveArchive writes a docker save archive of two layers: the folder
// base, then a layer whose whiteout removes etc/doomed and which adds
// etc/added (and var/run/through-link when base has var/run -> /run). It
// is made here, from the host's binaries: no registry is
// reachable and no busybox is installed.
func saveArchive(t *testing.T, path, tag, base string, cfg dockerspec.DockerOCIImageConfig) {
	t.Helper()
	var layers [][]byte
	var b strings.Builder
	tarFolder(t, base, &b)
	layers = append(layers, []byte(b.String()))
	var top strings.Builder
	tw := tar.NewWriter(&top)
	topEntries := []struct{ name, body string }{{"etc/.wh.doomed", ""}, {"etc/added", "from the second layer\n"}}
	// A base with Debian's var/run -> /run gets a file written through it,
	// as real images' upper layers do.
	if fi, err := os.Lstat(filepath.Join(base, "var/run")); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		topEntries = append(topEntries, struct{ name, body string }{"var/run/through-link", "written through var/run\n"})
	}
	for _, e := range topEntries {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: time.Now()})
		tw.Write([]byte(e.body))
	}
	tw.Close()
	layers = append(layers, []byte(top.String()))
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	now := time.Now().UTC()
	img := dockerspec.DockerOCIImage{Image: ocispec.Image{Created: &now, Platform: ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}, RootFS: ocispec.RootFS{Type: "layers"},
		History: []ocispec.History{{Created: &now, CreatedBy: "the host's binaries"}, {Created: &now, CreatedBy: "a whiteout and a file"}}}, Config: cfg}
	files := map[string][]byte{}
	var names []string
	for _, l := range layers {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, digest.Digest("sha256:"+sum(l)))
		files[sum(l)+"/layer.tar"] = l
		names = append(names, sum(l)+"/layer.tar")
	}
	cb, _ := json.Marshal(img)
	files[sum(cb)+".json"] = cb
	files["manifest.json"], _ = json.Marshal([]map[string]any{{"Config": sum(cb) + ".json", "RepoTags": []string{tag}, "Layers": names}})
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	for n, b := range files {
		aw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		aw.Write(b)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
}

// liveswapdWithImage starts a liveswapd (live restore on) and loads into it,
// by docker load, an image tag of the host's binaries with config cfg.
func liveswapdWithImage(t *testing.T, tag string, cfg dockerspec.DockerOCIImageConfig, extraBins ...string) (*testbed.Systemd, *testbed.Liveswapd) {
	t.Helper()
	testbed.Require(t, testbed.DockerBin, "/usr/sbin/runc")
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := testbed.BuildRootfs(rootfs, extraBins...); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	saveArchive(t, archive, tag, rootfs, cfg)
	testbed.DockerCLI(t, l.Host, "load", "-i", archive)
	return sd, l
}

// TestLiveswapdImages drives the docker CLI 20.10 against a real liveswapd:
// docker load of a docker save archive (whiteouts honoured), images,
// inspect, tag, history, import; nginx and redis started by `docker run -d`
// from the loaded image, each container's root an overlay the image never
// sees writes through; pulls, unknown images, a non-image archive and the
// removal of an image in use refused; then a liveswapd restart under the
// test's witness.
func TestLiveswapdImages(t *testing.T) {
	testbed.Require(t, testbed.DockerBin, testbed.NginxBin, testbed.RedisBin, "/usr/sbin/runc")
	sd := testbed.StartSystemd(t)
	l := testbed.StartLiveswapd(t, sd, testbed.LiveswapdOptions{LiveRestore: true})
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := testbed.BuildRootfs(rootfs, "/bin/ls"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(rootfs, "etc/doomed"), []byte("removed by the second layer\n"), 0o644)
	os.Symlink("/run", filepath.Join(rootfs, "var/run"))
	archive := filepath.Join(dir, "image.tar")
	saveArchive(t, archive, "lsd-test:1", rootfs, dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"/bin/sleep", "600"}, Env: []string{"GREETING=from-image"}, WorkingDir: "/tmp"}})
	cli := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(testbed.DockerCLI(t, l.Host, args...))
	}
	refused := func(want string, args ...string) {
		t.Helper()
		out, err := testbed.Docker(l.Host, args...)
		t.Logf("docker %s: %s", strings.Join(args, " "), strings.TrimSpace(out))
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("docker %s: %v %q, want a refusal containing %q", strings.Join(args, " "), err, out, want)
		}
	}

	start := time.Now()
	if out := cli("load", "-i", archive); !strings.Contains(out, "Loaded image: lsd-test:1") {
		t.Fatalf("docker load: %q", out)
	}
	t.Logf("docker load of a %d-file image: %v", countFiles(rootfs), time.Since(start).Round(time.Millisecond))
	cli("tag", "lsd-test:1", "lsd-alias:2")
	if out := cli("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "lsd-test:1") || !strings.Contains(out, "lsd-alias:2") {
		t.Errorf("docker images: %q", out)
	}
	if out := cli("image", "inspect", "--format", "{{json .Config.Env}} {{.Os}} {{len .RootFS.Layers}}", "lsd-alias:2"); out != `["GREETING=from-image"] linux 2` {
		t.Errorf("docker image inspect: %q", out)
	}
	if out := cli("history", "lsd-test:1"); !strings.Contains(out, "a whiteout and a file") {
		t.Errorf("docker history: %q", out)
	}
	if out := cli("info", "--format", "{{.Driver}}"); out != "overlay" {
		t.Errorf("docker info names storage driver %q, want overlay (ext4 data-root)", out)
	}
	imageRoot := cli("image", "inspect", "--format", "{{.GraphDriver.Data.RootFS}}", "lsd-test:1")

	// nginx and redis from the loaded image, by the docker CLI.
	nginxDir := filepath.Join(dir, "nginx")
	os.MkdirAll(nginxDir, 0o755)
	webPort, kvPort := testbed.FreePort(t), testbed.FreePort(t)
	os.WriteFile(filepath.Join(nginxDir, "nginx.conf"), []byte(testbed.NginxConf(nginxDir, webPort)), 0o644)
	web := &testbed.Workload{Name: fmt.Sprintf("img-web-%04d", rand.IntN(1e4)), Kind: probe.HTTP, Addr: "127.0.0.1:" + strconv.Itoa(webPort)}
	web.ID = cli("run", "-d", "--name", web.Name, "--network", "host", "-v", nginxDir+":"+nginxDir, "lsd-test:1",
		testbed.NginxBin, "-p", nginxDir, "-e", filepath.Join(nginxDir, "error.log"), "-c", filepath.Join(nginxDir, "nginx.conf"))
	kv := &testbed.Workload{Name: fmt.Sprintf("img-kv-%04d", rand.IntN(1e4)), Kind: probe.Redis, Addr: "127.0.0.1:" + strconv.Itoa(kvPort)}
	kv.ID = cli("run", "-d", "--name", kv.Name, "--network", "host", "lsd-test:1",
		testbed.RedisBin, "--port", strconv.Itoa(kvPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", "/tmp")
	for _, w := range []*testbed.Workload{web, kv} {
		if err := testbed.WaitServing(w, 20*time.Second); err != nil {
			t.Fatalf("%s never served: %v\n%s", w.Name, err, cli("logs", w.ID))
		}
	}
	witness := testbed.Watch(t, l.Host, web, kv)

	// What the image gives a container: its env and working folder, the
	// second layer's files (one written through the first's absolute
	// var/run -> /run), not the file its whiteout removed; a write stays
	// in the container.
	look := cli("run", "-d", "--name", "img-look", "lsd-test:1", "/bin/sh", "-c",
		`echo "env=$GREETING pwd=$(pwd)"; cat /etc/doomed 2>/dev/null || echo doomed-gone; cat /etc/added; cat /run/through-link; echo w >/written; echo ready; exec sleep 600`)
	var out string
	testbed.WaitUntil(t, "the look container to report", 20*time.Second, func() bool {
		out = cli("logs", look)
		return strings.Contains(out, "ready")
	})
	for _, want := range []string{"env=from-image pwd=/tmp", "doomed-gone", "from the second layer", "written through var/run"} {
		if !strings.Contains(out, want) {
			t.Errorf("the container's output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(imageRoot, "written")); err == nil {
		t.Errorf("a container's write reached the image's folder %s", imageRoot)
	}

	// Refused, each with what to do instead; nothing stored or created.
	refused("docker load", "pull", "busybox")
	refused("pull access denied for nosuch", "run", "-d", "nosuch:1", "true")
	// One of two tags goes; the last one of an image in use does not.
	if out := cli("rmi", "lsd-alias:2"); out != "Untagged: lsd-alias:2" {
		t.Errorf("docker rmi of one of two tags: %q", out)
	}
	refused("being used by container", "rmi", "lsd-test:1")
	notImage := filepath.Join(dir, "rootfs.tar")
	f, _ := os.Create(notImage)
	tarFolder(t, rootfs, f)
	f.Close()
	refused("neither manifest.json", "load", "-i", notImage)
	if n := len(strings.Fields(cli("images", "-q"))); n != 1 {
		t.Errorf("%d images after the refusals, want 1", n)
	}
	// The same tar is a root filesystem: docker import takes it.
	imported := cli("import", notImage, "lsd-imported:1")
	code := cli("wait", cli("run", "-d", "--name", "img-imported", "lsd-imported:1", "/bin/sh", "-c", "test -f /etc/doomed && echo imported-ok"))
	if logs := cli("logs", "img-imported"); code != "0" || !strings.Contains(logs, "imported-ok") {
		t.Errorf("container of the imported image %s: exit %s, logs %q", imported, code, logs)
	}

	// A restart of liveswapd keeps the containers started from images.
	pids := map[string]string{}
	for _, id := range []string{web.ID, kv.ID, look} {
		pids[id] = cli("inspect", "--format", "{{.State.Pid}}", id)
	}
	sd.RestartUnit(t, l.Unit)
	for id, pid := range pids {
		if now := cli("inspect", "--format", "{{.State.Pid}}", id); now != pid {
			t.Errorf("container %s: pid %s after the restart, was %s", id[:12], now, pid)
		}
	}
	witness.Stop(t)
	witness.RequireUninterrupted(t)

	// Removing the containers frees the image; its folder and the overlay
	// mounts go.
	cli("rm", "-f", web.ID, kv.ID, look, "img-imported")
	cli("rmi", "lsd-test:1", "lsd-imported:1")
	if _, err := os.Stat(imageRoot); !os.IsNotExist(err) {
		t.Errorf("the removed image's folder %s remains: %v", imageRoot, err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), l.Dir) {
		t.Errorf("mounts under %s remain after the containers were removed", l.Dir)
	}
}

func countFiles(dir string) int {
	n := 0
	filepath.Walk(dir, func(string, os.FileInfo, error) error { n++; return nil })
	return n
}
