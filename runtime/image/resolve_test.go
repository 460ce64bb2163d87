package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLayersResolveSymlinksInRoot unpacks layers whose paths go through
// symlinks of lower layers, absolute or relative, as real images have them
// (var/run -> /run, lib -> usr/lib): each is followed inside the image
// root, as in a container, and nothing is ever written beside it.
func TestLayersResolveSymlinksInRoot(t *testing.T) {
	// outside stands for a host folder an absolute link names: it must stay
	// empty, the write landing at the same path inside the root.
	outside := t.TempDir()
	dir := func(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
	link := func(name, to string) entry { return entry{name: name, typ: tar.TypeSymlink, link: to} }
	for _, tt := range []struct {
		name    string
		layers  [][]entry
		want    map[string]string // path in the root: file content, "->target" for a symlink, "" for absent
		wantErr string
	}{
		{"absolute link to a folder (var/run -> /run)",
			[][]entry{{dir("run/"), dir("var/"), link("var/run", "/run")}, {dir("var/"), {name: "var/run/x", body: "x"}}},
			map[string]string{"run/x": "x", "var/run": "->/run"}, ""},
		{"absolute link to a missing folder makes it in the root",
			[][]entry{{link("mtab.d", "/proc/self/mounts.d")}, {{name: "mtab.d/f", body: "f"}}},
			map[string]string{"proc/self/mounts.d/f": "f"}, ""},
		{"absolute link to a host folder stays in the root",
			[][]entry{{link("etc", outside)}, {{name: "etc/evil", body: "x"}}},
			map[string]string{strings.TrimPrefix(outside, "/") + "/evil": "x"}, ""},
		{"etc -> / then etc/evil writes the root's /evil",
			[][]entry{{link("etc", "/"), {name: "etc/evil", body: "x"}}},
			map[string]string{"evil": "x", "etc": "->/"}, ""},
		{"relative link with .. past the root stops at the root",
			[][]entry{{dir("a/"), link("a/up", "../../../../.."), {name: "a/up/f", body: "f"}}},
			map[string]string{"f": "f"}, ""},
		{"link chain, absolute and relative",
			[][]entry{{dir("real/"), link("l3", "real"), link("l2", "/l3"), link("l1", "l2")}, {{name: "l1/f", body: "f"}}},
			map[string]string{"real/f": "f", "l1": "->l2"}, ""},
		{"whiteout through a link",
			[][]entry{{dir("run/"), {name: "run/gone", body: "g"}, {name: "run/kept", body: "k"}, dir("var/"), link("var/run", "/run")}, {{name: "var/run/.wh.gone"}}},
			map[string]string{"run/gone": "", "run/kept": "k", "var/run": "->/run"}, ""},
		{"opaque whiteout through a link",
			[][]entry{{dir("run/"), {name: "run/old", body: "o"}, link("rlink", "run")}, {{name: "rlink/new", body: "n"}, {name: "rlink/.wh..wh..opq"}}},
			map[string]string{"run/old": "", "run/new": "n"}, ""},
		{"whiteout under a missing folder is a no-op",
			[][]entry{{{name: "none/.wh.x"}}},
			map[string]string{"none": ""}, ""},
		{"hardlink through a link (merged /usr)",
			[][]entry{{dir("usr/"), dir("usr/lib/"), {name: "usr/lib/libx", body: "x"}, link("lib", "usr/lib")}, {{name: "lib/liby", typ: tar.TypeLink, link: "lib/libx"}}},
			map[string]string{"usr/lib/liby": "x", "lib": "->usr/lib"}, ""},
		{"a loop names the entry",
			[][]entry{{link("a", "b"), link("b", "/a")}, {{name: "a/f", body: "f"}}},
			nil, "layer entry a/f: more than 40 symlinks"},
		{"a file is no folder",
			[][]entry{{{name: "f", body: "f"}}, {{name: "f/x", body: "x"}}},
			nil, "layer entry f/x: /f is not a folder"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			var err error
			for _, l := range tt.layers {
				if _, _, err = applyLayer(root, bytes.NewReader(layerTar(t, l...))); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "symlinks") && !errors.Is(err, unix.ELOOP) {
					t.Errorf("err %v is not ELOOP", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range tt.want {
				full := filepath.Join(root, p)
				fi, err := os.Lstat(full)
				switch {
				case want == "":
					if err == nil {
						t.Errorf("%s exists, want it absent", p)
					}
				case err != nil:
					t.Errorf("%s: %v", p, err)
				case strings.HasPrefix(want, "->"):
					if to, _ := os.Readlink(full); to != want[2:] {
						t.Errorf("%s links to %q, want %q", p, to, want[2:])
					}
				default:
					if b, _ := os.ReadFile(full); fi.Mode().IsRegular() && string(b) != want {
						t.Errorf("%s holds %q, want %q", p, b, want)
					} else if !fi.Mode().IsRegular() {
						t.Errorf("%s is %v, want a file", p, fi.Mode())
					}
				}
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("a layer wrote %d entries on the host, in %s", len(ents), outside)
			}
		})
	}
}

// TestHardlinkThroughLinkSharesInode: the link made through lib -> usr/lib
// is the same file as its target, not a copy.
func TestHardlinkThroughLinkSharesInode(t *testing.T) {
	root := t.TempDir()
	l := layerTar(t, entry{name: "usr/lib/libx", body: "x"}, entry{name: "lib", typ: tar.TypeSymlink, link: "/usr/lib"}, entry{name: "lib/liby", typ: tar.TypeLink, link: "lib/libx"})
	if _, _, err := applyLayer(root, bytes.NewReader(l)); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(root, "usr/lib/libx"))
	b, _ := os.Stat(filepath.Join(root, "usr/lib/liby"))
	if a == nil || b == nil || a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino {
		t.Fatalf("usr/lib/liby is not a hard link of usr/lib/libx: %v %v", a, b)
	}
}
