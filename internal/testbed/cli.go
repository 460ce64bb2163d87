package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Docker runs the docker.io CLI against host (unix://...) and returns its
// combined output. The CLI is the tests' independent witness.
func Docker(host string, args ...string) (string, error) {
	cmd := exec.Command(DockerBin, append([]string{"-H", host}, args...)...)
	cfg, _ := os.MkdirTemp("", "lscli-")
	defer os.RemoveAll(cfg)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_CONFIG="+cfg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("docker %s: %w", strings.Join(args, " "), err)
		}
		return out.String(), nil
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("docker %s: timed out", strings.Join(args, " "))
	}
}

// DockerCLI is Docker that fails the test on error.
func DockerCLI(t T, host string, args ...string) string {
	t.Helper()
	out, err := Docker(host, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// State is what `docker inspect` says of a container's process.
type State struct {
	ID           string
	Name         string
	Status       string
	Running      bool
	Pid          int
	ExitCode     int
	StartedAt    string
	FinishedAt   string
	RestartCount int
}

// Inspect reads a container's state through the CLI.
func Inspect(t T, host, name string) State {
	t.Helper()
	out := DockerCLI(t, host, "inspect", name)
	var v []struct {
		ID           string `json:"Id"`
		Name         string
		RestartCount int
		State        struct {
			Status     string
			Running    bool
			Pid        int
			ExitCode   int
			StartedAt  string
			FinishedAt string
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("testbed: inspect %s: %v\n%s", name, err, out)
	}
	c := v[0]
	return State{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Status: c.State.Status, Running: c.State.Running,
		Pid: c.State.Pid, ExitCode: c.State.ExitCode, StartedAt: c.State.StartedAt,
		FinishedAt: c.State.FinishedAt, RestartCount: c.RestartCount}
}
