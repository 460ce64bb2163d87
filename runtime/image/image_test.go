package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func layerTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// saveArchive builds a docker save archive of the layers, tagged tag.
func saveArchive(t *testing.T, tag string, cmd []string, layers ...[]byte) []byte {
	t.Helper()
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}, Config: ocispec.ImageConfig{Cmd: cmd}, RootFS: ocispec.RootFS{Type: "layers"}}
	files := map[string][]byte{}
	var names []string
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.Digest("sha256:"+sha(l)))
		n := sha(l) + "/layer.tar"
		files[n] = l
		names = append(names, n)
	}
	cb, _ := json.Marshal(cfg)
	files[sha(cb)+".json"] = cb
	mb, _ := json.Marshal([]saveManifest{{Config: sha(cb) + ".json", RepoTags: []string{tag}, Layers: names}})
	files["manifest.json"] = mb
	return tarOf(t, files)
}

func tarOf(t *testing.T, files map[string][]byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, b := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestLoadDockerSaveWhiteouts(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := layerTar(t,
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/keep", body: "keep"},
		entry{name: "etc/gone", body: "gone"},
		entry{name: "opq/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "opq/old", body: "old"},
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/tool", body: "#!", mode: 0o4755},
		entry{name: "bin/alias", typ: tar.TypeSymlink, link: "tool"},
		entry{name: "bin/hard", typ: tar.TypeLink, link: "bin/tool"},
	)
	top := layerTar(t,
		entry{name: "etc/.wh.gone"},
		entry{name: "opq/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "opq/new", body: "new"},
		entry{name: "opq/.wh..wh..opq"},
	)
	loaded, err := s.Load(bytes.NewReader(gz(saveArchive(t, "demo", []string{"/bin/tool"}, base, gz(top)))))
	if err == nil {
		t.Fatal("a gzip layer's digest is of its uncompressed content: the config names the compressed bytes here, so the load must be refused")
	}
	loaded, err = s.Load(bytes.NewReader(gz(saveArchive(t, "demo", []string{"/bin/tool"}, base, top))))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || len(loaded[0].Tags) != 1 || loaded[0].Tags[0] != "demo:latest" {
		t.Fatalf("loaded %+v, want one image tagged demo:latest", loaded)
	}
	root := s.RootFS(loaded[0].ID)
	for _, c := range []struct {
		path   string
		exists bool
	}{{"etc/keep", true}, {"etc/gone", false}, {"opq/old", false}, {"opq/new", true}, {"bin/alias", true}, {"bin/hard", true}, {"opq/.wh..wh..opq", false}, {"etc/.wh.gone", false}} {
		if _, err := os.Lstat(filepath.Join(root, c.path)); (err == nil) != c.exists {
			t.Errorf("%s exists=%v, want %v", c.path, err == nil, c.exists)
		}
	}
	if fi, _ := os.Stat(filepath.Join(root, "bin/tool")); fi == nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("bin/tool lost its setuid bit: %v", fi)
	}
	for _, name := range []string{"demo", "demo:latest", "docker.io/library/demo:latest", loaded[0].ID, strings.TrimPrefix(loaded[0].ID, "sha256:")[:6]} {
		if id, err := s.Resolve(name); err != nil || id != loaded[0].ID {
			t.Errorf("Resolve(%q) = %s, %v; want %s", name, id, err, loaded[0].ID)
		}
	}
	if _, err := s.Resolve("other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(other) = %v, want not found", err)
	}
}

func TestLoadRefusesBadArchives(t *testing.T) {
	// The layer of one archive under the config of another.
	corrupt := saveArchive(t, "x", nil, layerTar(t, entry{name: "a", body: "a"}))
	other := saveArchive(t, "x", nil, layerTar(t, entry{name: "a", body: "b"}))
	corrupt = swapLayer(t, corrupt, other)
	cases := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"climbs out", saveArchive(t, "x", nil, layerTar(t, entry{name: "../escape", body: "x"})), "climbs out"},
		{"hard link named with ..", saveArchive(t, "x", nil, layerTar(t, entry{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"})), "climbs out"},
		{"not an image archive", tarOf(t, map[string][]byte{"rootfs/bin/sh": []byte("x")}), "neither manifest.json"},
		{"zstd", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, make([]byte, 32)...), "zstd"},
		{"digest mismatch", corrupt, "digest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Load(bytes.NewReader(c.archive))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("load: %v, want an error with %q", err, c.want)
			}
			if imgs := s.List(); len(imgs) != 0 {
				t.Fatalf("a refused load stored %d images", len(imgs))
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
				t.Fatalf("a refused load left %d folders in tmp", len(ents))
			}
		})
	}
}

func TestLoadOCILayout(t *testing.T) {
	layer := gz(layerTar(t, entry{name: "hello", body: "hi"}))
	diff := "sha256:" + sha(layerTar(t, entry{name: "hello", body: "hi"}))
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.Digest(diff)}}}
	cb, _ := json.Marshal(cfg)
	m := ocispec.Manifest{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.Digest("sha256:" + sha(cb))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.Digest("sha256:" + sha(layer))}}}
	mb, _ := json.Marshal(m)
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:" + sha(mb)),
		Annotations: map[string]string{"io.containerd.image.name": "docker.io/library/oci:1"}}}}
	ib, _ := json.Marshal(idx)
	archive := tarOf(t, map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), "index.json": ib,
		"blobs/sha256/" + sha(cb): cb, "blobs/sha256/" + sha(mb): mb, "blobs/sha256/" + sha(layer): layer})
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := s.Load(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || len(loaded[0].Tags) != 1 || loaded[0].Tags[0] != "oci:1" {
		t.Fatalf("loaded %+v, want oci:1", loaded)
	}
	if b, _ := os.ReadFile(filepath.Join(s.RootFS(loaded[0].ID), "hello")); string(b) != "hi" {
		t.Fatalf("hello holds %q", b)
	}
}

func TestTagDeleteImport(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Import(bytes.NewReader(layerTar(t, entry{name: "f", body: "x"})), "imp:v1", "msg", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(bytes.NewReader(layerTar(t)), "", "", []string{"CMD /bin/sh"}); err == nil || !strings.Contains(err.Error(), "--change") {
		t.Fatalf("import with changes: %v, want refused naming --change", err)
	}
	if _, err := s.Tag("imp:v1", "other"); err != nil {
		t.Fatal(err)
	}
	none := func(string) string { return "" }
	used := func(string) string { return "abc" }
	if _, err := s.Delete(id, false, none); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete by ID with two tags: %v, want a conflict", err)
	}
	if out, err := s.Delete("other", false, used); err != nil || len(out) != 1 || out[0].Untagged != "other:latest" {
		t.Fatalf("delete of one of two tags: %+v %v, want untagged only", out, err)
	}
	if _, err := s.Delete("imp:v1", false, used); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete of an image in use: %v, want a conflict", err)
	}
	out, err := s.Delete("imp:v1", false, none)
	if err != nil || len(out) != 2 || out[1].Deleted != id {
		t.Fatalf("delete: %+v %v", out, err)
	}
	if len(s.List()) != 0 {
		t.Fatal("image still listed")
	}
}

func TestPrepare(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Import(bytes.NewReader(layerTar(t, entry{name: "f", body: "x"})), "p", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, drv := range []Driver{Copy, s.driver} {
		t.Run(string(drv), func(t *testing.T) {
			s.driver = drv
			dir := t.TempDir()
			root, err := s.Prepare(id, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer Unmount(dir)
			os.WriteFile(filepath.Join(root, "f"), []byte("changed"), 0o644)
			if b, _ := os.ReadFile(filepath.Join(s.RootFS(id), "f")); string(b) != "x" {
				t.Fatalf("a container's write reached the image: %q", b)
			}
			if err := Unmount(dir); err != nil || mounted(root) {
				t.Fatalf("unmount: %v", err)
			}
		})
	}
}

// swapLayer returns archive a with its layer.tar files' content taken from
// archive b's, names kept.
func swapLayer(t *testing.T, a, b []byte) []byte {
	read := func(x []byte) (map[string][]byte, []byte) {
		files := map[string][]byte{}
		var layer []byte
		tr := tar.NewReader(bytes.NewReader(x))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			var buf bytes.Buffer
			buf.ReadFrom(tr)
			files[h.Name] = buf.Bytes()
			if strings.HasSuffix(h.Name, "layer.tar") {
				layer = buf.Bytes()
			}
		}
		return files, layer
	}
	fa, _ := read(a)
	_, lb := read(b)
	for n := range fa {
		if strings.HasSuffix(n, "layer.tar") {
			fa[n] = lb
		}
	}
	return tarOf(t, fa)
}
