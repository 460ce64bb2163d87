package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// tinyImage imports an image holding /bin/sleep and /bin/true with their
// libraries (about 2.5 MB): dockerd's vfs driver copies an image per
// container, so the sleepers and the canary stay cheap.
func tinyImage(cli *client.Client) (string, error) {
	const ref = "lsbench/tiny:1"
	files := []string{"/bin/sleep", "/bin/true"}
	for _, bin := range []string{"/bin/sleep", "/bin/true"} {
		out, err := exec.Command("ldd", bin).Output()
		if err != nil {
			return "", fmt.Errorf("ldd %s: %w", bin, err)
		}
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	files = dedup(files)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range append(ds, "/tmp", "/proc", "/sys", "/dev") {
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
			return "", err
		}
	}
	for _, f := range files {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(real)
		if err != nil {
			return "", err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(f, "/"), Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return "", err
		}
		if _, err := tw.Write(b); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	rc, err := cli.ImageImport(context.Background(), image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return "", err
	}
	return ref, nil
}

func dedup(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
