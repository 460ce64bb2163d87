package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

func TestParseResize(t *testing.T) {
	for _, tt := range []struct {
		query      string
		rows, cols uint16
		bad        string // the parameter a refusal names
	}{
		{query: "h=24&w=80", rows: 24, cols: 80},
		{query: "h=65535&w=1", rows: 65535, cols: 1},
		{query: "", rows: 0, cols: 0},
		{query: "h=40", rows: 40},
		{query: "h=abc&w=80", bad: `h="abc"`},
		{query: "h=24&w=-1", bad: `w="-1"`},
		{query: "h=70000&w=80", bad: `h="70000"`},
		{query: "h=24&w=1.5", bad: `w="1.5"`},
	} {
		q, _ := url.ParseQuery(tt.query)
		size, err := parseResize(q)
		switch {
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad) || !strings.Contains(err.Error(), "0 to 65535")):
			t.Errorf("parseResize(%q) = %v, want a refusal naming %s and the range", tt.query, err, tt.bad)
		case tt.bad == "" && (err != nil || size.Rows != tt.rows || size.Cols != tt.cols):
			t.Errorf("parseResize(%q) = %+v, %v; want %dx%d", tt.query, size, err, tt.rows, tt.cols)
		}
	}
}

// TestExecTerminalAndStdin runs exec -t and exec -i against an in-process
// daemon with the SDK: a container of image host gets its terminal from
// /dev/ptmx directly (resized, a /dev/pts path, the shell's exit code), and
// stdin reaches cat byte for byte until the client's CloseWrite.
func TestExecTerminalAndStdin(t *testing.T) {
	td := startTestDaemon(t, testDir(t), false)
	killAll(t, td)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := runHost(t, td, "tty", nil, "/bin/sleep", "60")

	ex, err := td.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Tty: true, AttachStdin: true, AttachStdout: true, Cmd: []string{"/bin/sh"}})
	if err != nil {
		t.Fatal(err)
	}
	hj, err := td.cli.ContainerExecAttach(ctx, ex.ID, container.ExecStartOptions{Tty: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Close()
	hj.Conn.SetDeadline(time.Now().Add(30 * time.Second)) // a session that never ends fails, not hangs
	if err := td.cli.ContainerExecResize(ctx, ex.ID, container.ResizeOptions{Height: 30, Width: 100}); err != nil {
		t.Fatal(err)
	}
	var info struct {
		OpenStdin     bool
		ProcessConfig struct{ Tty bool }
		Running       bool
	}
	// The stream is hijacked before the command starts, as with dockerd.
	waitFor(t, "exec -t running", func() bool { getJSON(t, td, "/exec/"+ex.ID+"/json", &info); return info.Running })
	if !info.OpenStdin || !info.ProcessConfig.Tty {
		t.Errorf("exec inspect while running: %+v, want OpenStdin, tty, Running", info)
	}
	hj.Conn.Write([]byte("stty size; tty; echo $((6*7)); exit 3\n"))
	out, _ := io.ReadAll(hj.Reader)
	for _, want := range []string{"30 100\r\n", "/dev/pts/", "\r\n42\r\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("exec -t output %q lacks %q", out, want)
		}
	}
	if insp, err := td.cli.ContainerExecInspect(ctx, ex.ID); err != nil || insp.ExitCode != 3 || insp.Running {
		t.Errorf("exec -t inspect after the end: %+v, %v; want exit code 3", insp, err)
	}

	data := make([]byte, 20000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	ex, err = td.cli.ContainerExecCreate(ctx, id, container.ExecOptions{AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: []string{"/bin/cat"}})
	if err != nil {
		t.Fatal(err)
	}
	hj2, err := td.cli.ContainerExecAttach(ctx, ex.ID, container.ExecStartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer hj2.Close()
	hj2.Conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		hj2.Conn.Write(data)
		hj2.CloseWrite()
	}()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, hj2.Reader); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), data) || stderr.Len() != 0 {
		t.Errorf("exec -i cat returned %d bytes (equal: %v), stderr %q; want the %d sent", stdout.Len(), bytes.Equal(stdout.Bytes(), data), stderr.String(), len(data))
	}
	if insp, err := td.cli.ContainerExecInspect(ctx, ex.ID); err != nil || insp.ExitCode != 0 {
		t.Errorf("exec -i inspect: %+v, %v; want exit code 0", insp, err)
	}
	if err := td.cli.ContainerExecResize(ctx, ex.ID, container.ResizeOptions{Height: 1, Width: 1}); err == nil || !strings.Contains(err.Error(), "has no terminal") {
		t.Errorf("resizing exec -i: %v, want refused: it has no terminal", err)
	}
	if ents, _ := os.ReadDir(td.cfg.ExecRoot + "/execs"); len(ents) != 0 {
		t.Errorf("exec sessions left %d folders", len(ents))
	}
}

// getJSON decodes a GET of the test daemon's API.
func getJSON(t *testing.T, td *testDaemon, path string, v any) {
	t.Helper()
	resp, err := td.cli.HTTPClient().Get("http://liveswapd" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
