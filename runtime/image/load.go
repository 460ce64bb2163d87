package image

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Loaded is one image a load stored, with the tags it now carries.
type Loaded struct {
	ID   string
	Tags []string
}

// archive is a load archive unpacked into a folder; regular files only,
// its symlinks (docker save links repeated layers) kept as a map.
type archive struct {
	dir   string
	links map[string]string
}

// extract unpacks an archive's regular files under dir; names that climb
// out are refused.
func extract(r io.Reader, dir string) (*archive, error) {
	plain, err := decompress(r)
	if err != nil {
		return nil, err
	}
	a := &archive{dir: dir, links: map[string]string{}}
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %v: %w", err, ErrInvalid)
		}
		name, err := cleanEntry(hdr.Name)
		if err != nil || name == "" {
			if err != nil {
				return nil, err
			}
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("unpacking %s: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			a.links[name] = path.Join(path.Dir(name), hdr.Linkname)
		}
	}
}

// open opens a file of the archive, following its symlinks inside it.
func (a *archive) open(name string) (*os.File, error) {
	name, err := cleanEntry(name)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 8; i++ {
		t, ok := a.links[name]
		if !ok {
			break
		}
		if name, err = cleanEntry(t); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(filepath.Join(a.dir, name))
	if err != nil {
		return nil, fmt.Errorf("the archive has no %s: %w", name, ErrInvalid)
	}
	return f, nil
}

func (a *archive) read(name string) ([]byte, error) {
	f, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// saveManifest is one entry of a docker save archive's manifest.json.
type saveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Load stores every image of a `docker save` archive (manifest.json) or
// an OCI image layout (index.json), plain or gzip-compressed. Nothing is
// tagged unless its image was stored whole.
func (s *Store) Load(r io.Reader) ([]Loaded, error) {
	work, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "archive-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	a, err := extract(r, work)
	if err != nil {
		return nil, err
	}
	var ms []saveManifest
	if b, err := a.read("manifest.json"); err == nil {
		if err := json.Unmarshal(b, &ms); err != nil {
			return nil, fmt.Errorf("the archive's manifest.json: %v: %w", err, ErrInvalid)
		}
	} else if b, err := a.read("index.json"); err == nil {
		if ms, err = ociManifests(a, b); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("the archive holds neither manifest.json (docker save) nor index.json (OCI image layout); load an archive made by docker save or an OCI image layout tar, or use docker import for a root filesystem tar: %w", ErrInvalid)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("the archive lists no image: %w", ErrInvalid)
	}
	var out []Loaded
	for _, m := range ms {
		l, err := s.loadOne(a, m)
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *Store) loadOne(a *archive, m saveManifest) (Loaded, error) {
	config, err := a.read(m.Config)
	if err != nil {
		return Loaded{}, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(config, &cfg); err != nil {
		return Loaded{}, fmt.Errorf("image config %s: %v: %w", m.Config, err, ErrInvalid)
	}
	if err := checkPlatform(cfg.OS, cfg.Architecture); err != nil {
		return Loaded{}, err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return Loaded{}, fmt.Errorf("image config %s lists %d layers, the manifest %d: %w", m.Config, len(cfg.RootFS.DiffIDs), len(m.Layers), ErrInvalid)
	}
	var tags []string
	for _, t := range m.RepoTags {
		ref, err := NormalizeRef(t)
		if err != nil {
			return Loaded{}, err
		}
		tags = append(tags, ref)
	}
	stage, err := s.stage()
	if err != nil {
		return Loaded{}, err
	}
	defer os.RemoveAll(stage)
	var size int64
	for i, l := range m.Layers {
		f, err := a.open(l)
		if err != nil {
			return Loaded{}, err
		}
		diffID, n, err := applyLayer(filepath.Join(stage, "rootfs"), f)
		f.Close()
		if err != nil {
			return Loaded{}, fmt.Errorf("layer %d (%s): %w", i+1, l, err)
		}
		// The config names each layer by the digest of its content: a
		// layer that does not match is corrupt or of another image.
		if want := cfg.RootFS.DiffIDs[i].String(); diffID != want {
			return Loaded{}, fmt.Errorf("layer %d (%s) has digest %s, the image config says %s: the archive is corrupt: %w", i+1, l, diffID, want, ErrInvalid)
		}
		size += n
	}
	id, err := s.add(config, filepath.Join(stage, "rootfs"), size, tags)
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{ID: id, Tags: tags}, nil
}

func checkPlatform(os, arch string) error {
	if os != "" && os != "linux" {
		return fmt.Errorf("image is for %s; liveswapd runs linux images: %w", os, ErrInvalid)
	}
	if arch != "" && arch != goruntime.GOARCH {
		return fmt.Errorf("image is for architecture %s; this host runs %s: %w", arch, goruntime.GOARCH, ErrInvalid)
	}
	return nil
}

// ociManifests reads an OCI image layout's index (following nested
// indexes to this host's platform) into docker save's manifest shape.
func ociManifests(a *archive, index []byte) ([]saveManifest, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("the layout's index.json: %v: %w", err, ErrInvalid)
	}
	var out []saveManifest
	var walk func(descs []ocispec.Descriptor, tag string, depth int) error
	walk = func(descs []ocispec.Descriptor, tag string, depth int) error {
		if depth > 4 {
			return fmt.Errorf("OCI indexes nested too deep: %w", ErrInvalid)
		}
		for _, d := range descs {
			t := tag
			if n := d.Annotations["io.containerd.image.name"]; n != "" {
				t = n
			} else if n := d.Annotations[ocispec.AnnotationRefName]; n != "" && t == "" {
				t = n
			}
			if d.Platform != nil && (d.Platform.OS != "linux" || d.Platform.Architecture != goruntime.GOARCH) {
				continue
			}
			b, err := a.read(blobPath(d.Digest))
			if err != nil {
				return err
			}
			switch d.MediaType {
			case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
				var sub ocispec.Index
				if err := json.Unmarshal(b, &sub); err != nil {
					return fmt.Errorf("index %s: %v: %w", d.Digest, err, ErrInvalid)
				}
				if err := walk(sub.Manifests, t, depth+1); err != nil {
					return err
				}
			case ocispec.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json":
				var m ocispec.Manifest
				if err := json.Unmarshal(b, &m); err != nil {
					return fmt.Errorf("manifest %s: %v: %w", d.Digest, err, ErrInvalid)
				}
				sm := saveManifest{Config: blobPath(m.Config.Digest)}
				if t != "" {
					if ref, err := ociTag(t); err == nil {
						sm.RepoTags = []string{ref}
					}
				}
				for _, l := range m.Layers {
					sm.Layers = append(sm.Layers, blobPath(l.Digest))
				}
				out = append(out, sm)
			default:
				// Attestations and other artifacts are not images.
			}
		}
		return nil
	}
	if err := walk(idx.Manifests, "", 0); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the OCI layout holds no image manifest for linux/%s: %w", goruntime.GOARCH, ErrInvalid)
	}
	return out, nil
}

// ociTag turns a ref.name annotation into a reference: a bare tag
// ("latest", as skopeo writes) has no name to go with and is dropped.
func ociTag(t string) (string, error) {
	if !strings.ContainsAny(t, "/:") {
		return "", fmt.Errorf("bare tag %q", t)
	}
	return NormalizeRef(t)
}

func blobPath(d digest.Digest) string {
	return path.Join("blobs", d.Algorithm().String(), d.Encoded())
}

// Import stores a root filesystem tar (plain or gzip) as a one-layer
// image, as `docker import` does, tagged ref if given. changes (the
// Dockerfile instructions import -c takes) are refused: liveswapd does not
// apply them.
func (s *Store) Import(r io.Reader, ref, message string, changes []string) (string, error) {
	if len(changes) > 0 {
		return "", fmt.Errorf("docker import --change is not supported by liveswapd (%s); give the command and environment with docker run: %w", strings.Join(changes, "; "), ErrInvalid)
	}
	var tags []string
	if ref != "" {
		norm, err := NormalizeRef(ref)
		if err != nil {
			return "", err
		}
		tags = []string{norm}
	}
	stage, err := s.stage()
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	diffID, size, err := applyLayer(filepath.Join(stage, "rootfs"), r)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	cfg := dockerspec.DockerOCIImage{Image: ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.Digest(diffID)}},
		History:  []ocispec.History{{Created: &now, CreatedBy: "liveswapd import", Comment: message}},
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return s.add(b, filepath.Join(stage, "rootfs"), size, tags)
}
