// Package image is liveswapd's local image store: images enter it by
// `docker load` (docker save archives and OCI image layouts) and `docker
// import` (a root filesystem tar), never from a registry. Each image is
// its config (the document its ID is the digest of) and its layers
// unpacked into one root folder; a container gets an overlay on that
// folder where the kernel and file system allow it, a copy otherwise.
//
// On disk, under data-root/images:
//
//	sha256/HEX/config.json   the image config, byte for byte (ID = sha256 of it)
//	sha256/HEX/rootfs/       the layers, unpacked in order, whiteouts applied
//	sha256/HEX/meta.json     size and when it was loaded
//	repositories.json        name:tag -> image ID
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
)

// Error categories; the API maps them to status codes.
var (
	ErrNotFound = errors.New("no such image")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid image")
)

// Driver names how a container's root is made from its image.
type Driver string

const (
	// Overlay: an overlay mount, the image's folder below and the
	// container's own upper folder above; the image is never written.
	Overlay Driver = "overlay"
	// Copy: the image's folder copied into the container's folder, where
	// the kernel or file system offer no overlay.
	Copy Driver = "copy"
)

// Image is one stored image.
type Image struct {
	ID     string // sha256:HEX
	Config dockerspec.DockerOCIImage
	Tags   []string // familiar name:tag
	Size   int64
	Loaded time.Time
}

// Created is the image's creation time, or zero.
func (i *Image) Created() time.Time {
	if i.Config.Created != nil {
		return *i.Config.Created
	}
	return time.Time{}
}

type meta struct {
	Size   int64     `json:"size"`
	Loaded time.Time `json:"loaded"`
}

// Store is the image store under one folder.
type Store struct {
	dir    string
	driver Driver
	why    string // why the driver was chosen

	mu   sync.Mutex
	refs map[string]string // familiar name:tag -> ID
}

// Open opens (creating) the store under dir and decides the driver by
// trying an overlay mount there.
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	// Leftovers of loads that were interrupted.
	ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, "tmp", e.Name()))
	}
	s := &Store{dir: dir, refs: map[string]string{}}
	b, err := os.ReadFile(s.refsFile())
	if err == nil {
		if err := json.Unmarshal(b, &s.refs); err != nil {
			return nil, fmt.Errorf("%s: %v; restore it from a backup or remove it (images stay, their tags are lost)", s.refsFile(), err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	s.driver, s.why = probeOverlay(filepath.Join(dir, "tmp"))
	return s, nil
}

// Driver reports how container roots are made, and why.
func (s *Store) Driver() (Driver, string) { return s.driver, s.why }

func (s *Store) refsFile() string { return filepath.Join(s.dir, "repositories.json") }
func (s *Store) imageDir(id string) string {
	return filepath.Join(s.dir, "sha256", strings.TrimPrefix(id, "sha256:"))
}

// RootFS is the folder holding an image's unpacked layers.
func (s *Store) RootFS(id string) string { return filepath.Join(s.imageDir(id), "rootfs") }

// NormalizeRef turns a reference into its familiar name:tag form
// ("busybox" -> "busybox:latest"); a digest reference is refused (no
// registry manifests are stored).
func NormalizeRef(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("invalid reference format %q: %v: %w", ref, err, ErrInvalid)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("reference %q names a registry digest: liveswapd keeps no registry manifests; use name:tag or the image ID: %w", ref, ErrInvalid)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

// Resolve finds the ID an image name stands for: name[:tag], a full ID
// (sha256:HEX or HEX) or a unique ID prefix.
func (s *Store) Resolve(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolveLocked(name)
}

func (s *Store) resolveLocked(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("no image name given: %w", ErrInvalid)
	}
	if ref, err := NormalizeRef(name); err == nil {
		if id, ok := s.refs[ref]; ok {
			return id, nil
		}
	}
	hexPart := strings.TrimPrefix(name, "sha256:")
	if len(hexPart) >= 1 && isHex(hexPart) && len(hexPart) <= 64 {
		ents, _ := os.ReadDir(filepath.Join(s.dir, "sha256"))
		var found []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), hexPart) {
				found = append(found, "sha256:"+e.Name())
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return "", fmt.Errorf("image ID prefix %s is ambiguous (%d images); give more of it: %w", hexPart, len(found), ErrConflict)
		}
	}
	shown := name
	if ref, err := NormalizeRef(name); err == nil {
		shown = ref
	}
	return "", fmt.Errorf("No such image: %s: %w", shown, ErrNotFound)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Get returns the image a name stands for.
func (s *Store) Get(name string) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.resolveLocked(name)
	if err != nil {
		return nil, err
	}
	return s.readLocked(id)
}

func (s *Store) readLocked(id string) (*Image, error) {
	dir := s.imageDir(id)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("image %s: %v: %w", id, err, ErrNotFound)
	}
	img := &Image{ID: id}
	if err := json.Unmarshal(b, &img.Config); err != nil {
		return nil, fmt.Errorf("image %s: config: %v: %w", id, err, ErrInvalid)
	}
	var m meta
	if b, err := os.ReadFile(filepath.Join(dir, "meta.json")); err == nil {
		json.Unmarshal(b, &m)
	}
	img.Size, img.Loaded = m.Size, m.Loaded
	for ref, rid := range s.refs {
		if rid == id {
			img.Tags = append(img.Tags, ref)
		}
	}
	sort.Strings(img.Tags)
	return img, nil
}

// List returns every stored image, newest first.
func (s *Store) List() []*Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, _ := os.ReadDir(filepath.Join(s.dir, "sha256"))
	var out []*Image
	for _, e := range ents {
		if img, err := s.readLocked("sha256:" + e.Name()); err == nil {
			out = append(out, img)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created().After(out[j].Created()) })
	return out
}

// Tag points ref at the image name stands for.
func (s *Store) Tag(name, ref string) (string, error) {
	norm, err := NormalizeRef(ref)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.resolveLocked(name)
	if err != nil {
		return "", err
	}
	return norm, s.setRefsLocked(map[string]string{norm: id})
}

func (s *Store) setRefsLocked(add map[string]string) error {
	next := make(map[string]string, len(s.refs)+len(add))
	for k, v := range s.refs {
		next[k] = v
	}
	for k, v := range add {
		if v == "" {
			delete(next, k)
		} else {
			next[k] = v
		}
	}
	if err := atomicfile.WriteJSON(s.refsFile(), next, 0o600); err != nil {
		return err
	}
	s.refs = next
	return nil
}

// Deleted is one line of an image removal: a tag untagged or an image
// deleted.
type Deleted struct{ Untagged, Deleted string }

// Delete removes a tag, or the image when name is its last tag or its ID.
// inUse names a container that uses the image ("" if none): an image a
// container uses is kept, force or not, since the container's root is made
// from its folder.
func (s *Store) Delete(name string, force bool, inUse func(id string) string) ([]Deleted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.resolveLocked(name)
	if err != nil {
		return nil, err
	}
	var tags []string
	for ref, rid := range s.refs {
		if rid == id {
			tags = append(tags, ref)
		}
	}
	sort.Strings(tags)
	byTag := false
	if ref, err := NormalizeRef(name); err == nil && s.refs[ref] == id {
		byTag = true
		if len(tags) > 1 {
			// Another tag keeps the image.
			return []Deleted{{Untagged: ref}}, s.setRefsLocked(map[string]string{ref: ""})
		}
	}
	if !byTag && len(tags) > 1 && !force {
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories (%s): %w", short(id), strings.Join(tags, ", "), ErrConflict)
	}
	if c := inUse(id); c != "" {
		return nil, fmt.Errorf("conflict: unable to delete %s - image is being used by container %s; remove the container first: %w", short(id), c, ErrConflict)
	}
	var out []Deleted
	drop := map[string]string{}
	for _, t := range tags {
		out = append(out, Deleted{Untagged: t})
		drop[t] = ""
	}
	if err := s.setRefsLocked(drop); err != nil {
		return nil, err
	}
	// Renamed away first, so a crash mid-removal leaves no half image.
	gone := filepath.Join(s.dir, "tmp", "rm-"+strings.TrimPrefix(id, "sha256:"))
	if err := os.Rename(s.imageDir(id), gone); err != nil {
		return out, err
	}
	if err := os.RemoveAll(gone); err != nil {
		return out, err
	}
	return append(out, Deleted{Deleted: id}), nil
}

func short(id string) string {
	h := strings.TrimPrefix(id, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// add stores an unpacked image: config is the config document's bytes,
// rootfs a folder under the store's tmp (moved in place). An image that is
// already stored keeps its folder. tags are pointed at it.
func (s *Store) add(config []byte, rootfs string, size int64, tags []string) (string, error) {
	sum := sha256.Sum256(config)
	id := "sha256:" + hex.EncodeToString(sum[:])
	dir := s.imageDir(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		stage := filepath.Dir(rootfs)
		if err := atomicfile.WriteFile(filepath.Join(stage, "config.json"), config, 0o600); err != nil {
			return "", err
		}
		if err := atomicfile.WriteJSON(filepath.Join(stage, "meta.json"), meta{Size: size, Loaded: time.Now().UTC()}, 0o600); err != nil {
			return "", err
		}
		os.RemoveAll(dir) // a half image of an interrupted rename
		if err := os.Rename(stage, dir); err != nil {
			return "", fmt.Errorf("storing image %s: %w", short(id), err)
		}
	}
	add := map[string]string{}
	for _, t := range tags {
		add[t] = id
	}
	return id, s.setRefsLocked(add)
}

// stage makes a fresh folder under the store's tmp with an empty rootfs.
func (s *Store) stage() (string, error) {
	dir, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "load-")
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
