package testbed

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ImageName is the local image BuildImage imports.
const ImageName = "local/base:1"

// imageBins are copied into the image with the libraries they link.
var imageBins = []string{NginxBin, RedisBin, "/bin/sh", "/bin/true", "/bin/sleep", "/bin/cat"}

// BuildImage makes an image from the host's nginx and redis-server binaries
// and the libraries they load (no registry is reachable here) and imports it
// into d. It returns the image name.
func BuildImage(t T, d *Dockerd) string {
	t.Helper()
	return ImportImage(t, d.Host, d.Dir)
}

// ImportImage builds the image in dir and imports it into the daemon at
// host.
func ImportImage(t T, host, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	if err := BuildRootfs(root); err != nil {
		t.Fatalf("testbed: building rootfs: %v", err)
	}
	tar := exec.Command("tar", "-C", root, "-c", ".")
	imp := exec.Command(DockerBin, "-H", host, "import", "-", ImageName)
	imp.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dir, "cli"))
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatalf("%v", err)
	}
	imp.Stdin = pipe
	var out bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &out
	if err := tar.Start(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := imp.Run(); err != nil {
		t.Fatalf("testbed: docker import: %v\n%s", err, out.String())
	}
	if err := tar.Wait(); err != nil {
		t.Fatalf("testbed: tar: %v", err)
	}
	os.RemoveAll(root)
	return ImageName
}

// BuildRootfs fills dir with the image's files, and the extra binaries
// with the libraries they link.
func BuildRootfs(dir string, extraBins ...string) error {
	for _, d := range []string{"tmp", "run", "etc", "var/log/nginx", "var/lib/nginx", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	// os.ModeSticky, not 0o1000: Go drops the raw bit, which left /tmp
	// 0777 without it, a folder liveswap rightly refuses to trust.
	os.Chmod(filepath.Join(dir, "tmp"), 0o777|os.ModeSticky)
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, bin := range append(append([]string(nil), imageBins...), extraBins...) {
		libs, err := libraries(bin)
		if err != nil {
			return err
		}
		for _, f := range append([]string{bin}, libs...) {
			if seen[f] {
				continue
			}
			seen[f] = true
			if err := copyFile(f, filepath.Join(dir, f)); err != nil {
				return err
			}
		}
	}
	return nil
}

// libraries lists the absolute library paths `ldd bin` prints.
func libraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

// copyFile copies the content src resolves to, keeping its mode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
