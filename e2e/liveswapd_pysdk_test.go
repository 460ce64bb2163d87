package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// debianPython is Debian's interpreter, which imports Debian's
// python3-docker (a python3 earlier on PATH may have a docker of its own).
const debianPython = "/usr/bin/python3"

// TestLiveswapdPythonSDK drives a real liveswapd with the Python SDK of
// Debian (python3-docker 5.0.3, a client nobody here wrote): images.list,
// detached run with mem_limit, exec_run (plain, tty=True, and stdin on the
// socket), logs, stats, and foreground run
// (its output; a failing one raises ContainerError with exit status and
// stderr).
func TestLiveswapdPythonSDK(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import docker").Run(); err != nil {
		msg := "needs python3-docker (run `make deps` as root, or `make test`): %v"
		if os.Getenv("LIVESWAP_E2E") == "require" {
			t.Fatalf(msg, err)
		}
		t.Skipf(msg, err)
	}
	_, l := liveswapdWithImage(t, "lsd-py:1", dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"/bin/sleep", "600"}}})
	begin := time.Now()
	cmd := exec.Command(debianPython, "testdata/pysdk.py", l.Host, "lsd-py:1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("pysdk.py took %v: %s\nstderr: %s", time.Since(begin).Round(time.Millisecond), out, stderr.String())
	if err != nil {
		t.Fatalf("pysdk.py: %v", err)
	}
	var got struct {
		Images     []string
		Status     string
		Exec       []any
		ExecTty    []any  `json:"exec_tty"`
		ExecStdin  string `json:"exec_stdin"`
		Logs       string
		Stats      struct{ Limit, Usage, Pids, CPU float64 }
		Foreground string
		Failing    []any
		Left       []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pysdk.py printed %q: %v", out, err)
	}
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"images.list has lsd-py:1", len(got.Images) == 1 && got.Images[0] == "lsd-py:1"},
		{"detached run is running", got.Status == "running"},
		{"exec_run: exit 4, both streams", len(got.Exec) == 2 && got.Exec[0] == 4.0 && strings.Contains(got.Exec[1].(string), "exec-out") && strings.Contains(got.Exec[1].(string), "exec-err")},
		{"exec_run(tty=True): exit 5, on a terminal (raw stream, CR LF)", len(got.ExecTty) == 2 && got.ExecTty[0] == 5.0 && got.ExecTty[1] == "on-a-tty\r\n"},
		{"exec_run(stdin=True, socket=True): cat returns the input", got.ExecStdin == "py-stdin\n"},
		{"logs", strings.Contains(got.Logs, "started")},
		{"stats: the 48m limit, usage, 1 pid, CPU time", got.Stats.Limit == 48<<20 && got.Stats.Usage > 0 && got.Stats.Pids == 1 && got.Stats.CPU > 0},
		{"foreground run returns its output", got.Foreground == "fg-out\n"},
		{"failing foreground run raises ContainerError 3 with stderr", len(got.Failing) == 2 && got.Failing[0] == 3.0 && strings.Contains(got.Failing[1].(string), "fg-err")},
		{"no container left", len(got.Left) == 0},
	} {
		if !c.ok {
			t.Errorf("%s: no (%+v)", c.what, got)
		}
	}
}
