package procfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    Proc
		wantErr bool
	}{
		{"plain", "42 (nginx) S 7 42 42 0 -1 4194560 1 0 0 0 3 4 0 0 20 0 1 0 12345 0 0",
			Proc{Exists: true, State: 'S', PPID: 7, PGRP: 42, Comm: "nginx", Start: 12345, Ticks: 7}, false},
		{"name with parentheses and spaces", "9 (a) (b c) R 1 9 9 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 99 0 0",
			Proc{Exists: true, State: 'R', PPID: 1, PGRP: 9, Comm: "a) (b c", Start: 99, Ticks: 2}, false},
		{"short", "1 (init) S 0 1", Proc{}, true},
		{"no parentheses", "garbage", Proc{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSelfAndFixture(t *testing.T) {
	if p, err := Stat(os.Getpid()); err != nil || !p.Exists || p.PPID != os.Getppid() {
		t.Fatalf("Stat(self) = %+v, %v; want parent %d", p, err, os.Getppid())
	}
	if p, err := Stat(1 << 30); err != nil || p.Exists {
		t.Fatalf("a missing process: %+v, %v; want not existing and no error", p, err)
	}

	dir := t.TempDir()
	old := Root
	Root = dir
	defer func() { Root = old }()
	for pid, files := range map[string]map[string]string{
		"10": {"stat": "10 (shim) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0",
			"cgroup": "12:cpu:/x\n1:name=systemd:/app.slice/d.service\n"},
		"11": {"stat": "11 (nginx) S 10 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 6 0 0",
			"cgroup": "0::/app.slice/c.scope\n", "cmdline": "nginx\x00-g\x00daemon off;\x00"},
		"12": {"stat": "12 (nginx) S 11 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0"},
	} {
		os.MkdirAll(filepath.Join(dir, pid), 0o755)
		for name, body := range files {
			os.WriteFile(filepath.Join(dir, pid, name), []byte(body), 0o644)
		}
	}
	if got := Cgroup(10); got != "/app.slice/d.service" {
		t.Errorf("v1 cgroup = %q", got)
	}
	if got := Cgroup(11); got != "/app.slice/c.scope" {
		t.Errorf("v2 cgroup = %q", got)
	}
	if got := Cmdline(11); len(got) != 3 || got[2] != "daemon off;" {
		t.Errorf("cmdline = %q", got)
	}
	tree := Descendants(10, Parents())
	if len(tree) != 3 || !tree[12] {
		t.Errorf("descendants of 10 = %v, want 10, 11, 12", tree)
	}
}
