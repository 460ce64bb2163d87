package procfs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
		{"name with spaces and nested parentheses, all fields",
			"1234 (we(ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 987654 1000 100 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0",
			Proc{Exists: true, State: 'S', PPID: 1, PGRP: 1234, Comm: "we(ird) name", Start: 987654, Ticks: 10}, false},
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

	fixture(t, map[string]map[string]string{
		"10": {"stat": "10 (shim) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0",
			"cgroup": "12:cpu:/x\n1:name=systemd:/app.slice/d.service\n"},
		"11": {"stat": "11 (nginx) S 10 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 6 0 0",
			"cgroup": "0::/app.slice/c.scope\n", "cmdline": "nginx\x00-g\x00daemon off;\x00"},
		"12": {"stat": "12 (nginx) S 11 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0"},
	})
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

// fixture points Root at a temporary /proc holding files by pid and name.
func fixture(t *testing.T, procs map[string]map[string]string) {
	t.Helper()
	dir := t.TempDir()
	old := Root
	Root = dir
	t.Cleanup(func() { Root = old })
	for pid, files := range procs {
		for name, body := range files {
			p := filepath.Join(dir, pid, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(body), 0o644)
		}
	}
}

func TestChildren(t *testing.T) {
	tests := []struct {
		name  string
		procs map[string]map[string]string
		want  []int
	}{
		{"every thread's children file", map[string]map[string]string{
			"10": {"task/10/children": "11 12 ", "task/13/children": "14"},
		}, []int{11, 12, 14}},
		{"no children files: the table is scanned", map[string]map[string]string{
			"10": {"stat": "10 (shim) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"},
			"11": {"stat": "11 (a) S 10 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 6 0 0"},
			"12": {"stat": "12 (b) S 11 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0"},
		}, []int{11}},
		{"no process", map[string]map[string]string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixture(t, tt.procs)
			got := Children(10)
			sort.Ints(got)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Children(10) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSelfReaders(t *testing.T) {
	me := os.Getpid()
	uid, ok := UID(me)
	ns, err := Link(0, "ns/pid")
	mine, _ := Link(me, "ns/pid")
	tests := []struct {
		name string
		ok   bool
	}{
		{"Exists(self)", Exists(me)},
		{"!Exists(0)", !Exists(0)},
		{"!Exists(missing)", !Exists(1 << 30)},
		{"UID(self) is our uid", ok && uid == os.Getuid()},
		{"Link(0) is self", err == nil && ns != "" && ns == mine},
		{"Hostname", Hostname() != ""},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("%s: false", tt.name)
		}
	}
}

func TestChildrenSeesEveryThreadsChildren(t *testing.T) {
	var procs []*os.Process
	for i := 0; i < 3; i++ {
		p, err := os.StartProcess("/bin/sleep", []string{"sleep", "5"}, &os.ProcAttr{})
		if err != nil {
			t.Skip("no /bin/sleep")
		}
		procs = append(procs, p)
	}
	defer func() {
		for _, p := range procs {
			p.Kill()
			p.Wait()
		}
	}()
	kids := map[int]bool{}
	for _, k := range Children(os.Getpid()) {
		kids[k] = true
	}
	for _, p := range procs {
		if !kids[p.Pid] {
			t.Errorf("child %d not listed by Children: %v", p.Pid, kids)
		}
	}
}

func TestCgroups(t *testing.T) {
	dir := t.TempDir()
	old := Root
	Root = dir
	defer func() { Root = old }()
	os.MkdirAll(filepath.Join(dir, "7"), 0o755)
	os.WriteFile(filepath.Join(dir, "7", "cgroup"), []byte("9:name=systemd:/docker/abc\n4:memory:/docker/abc\n1:cpu:/x\n0::/mgr/app.slice/d.service\n"), 0o644)
	got := strings.Join(Cgroups(7), " ")
	if want := "/docker/abc /x /mgr/app.slice/d.service"; got != want {
		t.Errorf("Cgroups = %q, want %q", got, want)
	}
	if Cgroups(8) != nil {
		t.Error("a missing process has cgroups")
	}
}
