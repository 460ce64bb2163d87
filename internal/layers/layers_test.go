package layers

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// rules: for each package prefix (relative to the module; the longest
// prefix wins), the project packages it may depend on, directly or not.
// A prefix ending in "/" covers the folder's packages.
var rules = []struct {
	pkg     string
	mayUse  []string
	because string
}{
	{"internal/host/", []string{"internal/host/"}, "adapters are the leaf layer"},
	{"internal/host/dpkg", []string{"internal/host/atomicfile"}, "the package adapter runs dpkg and writes policy-rc.d: it judges nothing"},
	{"plan", []string{"internal/host/"}, "the plan is the document: it names probe kinds, it reads no host"},
	{"plan/discover", []string{"plan", "internal/host/"}, "discovery reads the host through the adapters"},
	{"runtime", []string{"runtime/config", "runtime/errdefs", "runtime/health", "runtime/image", "runtime/oci", "runtime/shim", "internal/host/"}, "liveswapd's container store: it runs containers and never imports the API server above it"},
	{"runtime/api", []string{"runtime", "runtime/config", "runtime/errdefs", "runtime/health", "runtime/image", "runtime/oci", "runtime/shim", "internal/host/"}, "the Engine API server talks to the store through its exported methods"},
	{"runtime/", []string{"runtime/errdefs", "internal/host/"}, "liveswapd's parts (image store, OCI bundle, shim, configuration) are leaves below its daemon; they share only the error categories"},
	{"runtime/errdefs", nil, "the error categories import nothing"},
	{"cmd/liveswapd-shim", []string{"runtime/shim", "internal/host/"}, "the per-container process links the shim alone"},
	{"checks", []string{"checks/", "plan", "internal/host/"}, "checks ask binaries, never import runtime"},
	{"checks/", []string{"checks/", "plan", "internal/host/"}, "checks ask binaries, never import runtime"},
	{"upgrade", []string{"upgrade/", "checks", "checks/", "plan", "internal/host/"}, "the orchestrator runs the pre-flight it is handed"},
	{"upgrade/", []string{"upgrade", "upgrade/", "checks", "checks/", "plan", "internal/host/"}, "the orchestrator runs the pre-flight it is handed"},
	{"internal/testbed", []string{"plan", "internal/host/"}, "the testbed starts real daemons, it judges nothing"},
	{"internal/testbuild", nil, "tests build binaries with it"},
	{"playbooks", []string{"plan"}, "templates are plans"},
	{"cmd/", []string{"upgrade", "upgrade/", "checks", "checks/", "plan", "plan/", "runtime", "runtime/", "internal/host/", "internal/testbed"}, "cmd wires the layers together"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestLayers(t *testing.T) {
	mod := strings.TrimSpace(run(t, "go", "list", "-m"))
	dec := json.NewDecoder(strings.NewReader(run(t, "go", "list", "-deps=false", "-json", mod+"/...")))
	checked := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		if strings.HasPrefix(rel, "e2e") || rel == "internal/layers" {
			continue // tests sit above every layer
		}
		rule := -1
		for i, r := range rules {
			if matches(rel, r.pkg) && (rule < 0 || len(r.pkg) > len(rules[rule].pkg)) {
				rule = i
			}
		}
		if rule < 0 {
			t.Errorf("%s: no layer rule names this package; add one to rules and docs/architecture.md", rel)
			continue
		}
		checked++
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, mod+"/") {
				continue
			}
			dep := strings.TrimPrefix(d, mod+"/")
			ok := false
			for _, allowed := range rules[rule].mayUse {
				ok = ok || matches(dep, allowed)
			}
			if !ok {
				t.Errorf("%s depends on %s: not allowed (%s)", rel, dep, rules[rule].because)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages checked: is go list working?", checked)
	}
}

// TestShimIsLean: liveswapd-shim runs once per container for the
// container's whole life, so the shim links neither the Docker SDK nor an
// HTTP stack, nor package net (which links libc into the binary).
func TestShimIsLean(t *testing.T) {
	for _, p := range []string{"./runtime/shim", "./cmd/liveswapd-shim"} {
		deps := strings.Fields(run(t, "go", "list", "-deps", p))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s: only %v", p, deps)
		}
		for _, d := range deps {
			for _, heavy := range []string{"github.com/docker/", "github.com/moby/", "github.com/opencontainers/", "net/http", "net", "os/user", "runtime/cgo"} {
				if d == heavy || strings.HasSuffix(heavy, "/") && strings.HasPrefix(d, heavy) {
					t.Errorf("%s depends on %s: the shim must stay lean (see docs/architecture.md)", p, d)
				}
			}
		}
	}
}

// matches reports whether rel is the package prefix names, or one below
// it when prefix ends in "/".
func matches(rel, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(rel, prefix)
	}
	return rel == prefix
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Dir = "../.."
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}
