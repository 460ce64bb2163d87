package checks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveswap/liveswap/plan"
)

// elfCopy copies the running test binary (an ELF for this machine) to dir.
func elfCopy(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func write(t *testing.T, p, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func TestFileChecks(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	good := elfCopy(t, dir, "dockerd", 0o755)
	// An ELF for another machine: patch e_machine (offset 18, little endian).
	other := elfCopy(t, dir, "other-arch", 0o755)
	b, _ := os.ReadFile(other)
	machine := uint16(183) // aarch64
	if runtime.GOARCH == "arm64" {
		machine = 62 // x86-64
	}
	b[18], b[19] = byte(machine), byte(machine>>8)
	os.WriteFile(other, b, 0o755)
	script := write(t, filepath.Join(dir, "script"), "#!/bin/sh\necho Docker version 20.10.25, build x\n", 0o755)
	text := write(t, filepath.Join(dir, "text"), "hello\n", 0o755)
	noexec := elfCopy(t, dir, "noexec", 0o644)
	writable := elfCopy(t, dir, "writable", 0o775)
	link := filepath.Join(dir, "link")
	os.Symlink(good, link)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	inOpen := elfCopy(t, open, "dockerd", 0o755)
	sticky := filepath.Join(dir, "sticky")
	os.Mkdir(sticky, 0o777)
	os.Chmod(sticky, 0o777|os.ModeSticky)
	inSticky := elfCopy(t, sticky, "dockerd", 0o755)

	tests := []struct {
		name string
		test func(string) error
		path string
		want string // "" for no error, else a substring
	}{
		{"regular", regularFile, good, ""},
		{"symlink", regularFile, link, "is a symlink to " + good},
		{"directory", regularFile, sub, "not a regular file"},
		{"fifo", regularFile, fifo, "not a regular file"},
		{"missing", regularFile, filepath.Join(dir, "nope"), "no such file"},
		{"elf", func(p string) error { return elfFor(p, runtime.GOARCH) }, good, ""},
		{"elf other arch", func(p string) error { return elfFor(p, runtime.GOARCH) }, other, "this machine is " + runtime.GOARCH},
		{"elf script", func(p string) error { return elfFor(p, runtime.GOARCH) }, script, "is a script"},
		{"elf text", func(p string) error { return elfFor(p, runtime.GOARCH) }, text, "not an ELF"},
		{"executable", executable, good, ""},
		{"not executable", executable, noexec, "not executable (mode 0644)"},
		{"owner ok", rootOwned, good, ""},
		{"group writable", rootOwned, writable, "writable by group or others (mode 0775)"},
		{"folder writable", rootOwned, inOpen, "writable by group or others (mode 0777)"},
		{"sticky folder", rootOwned, inSticky, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 && strings.HasPrefix(tt.name, "owner") {
				t.Skip("needs root: the files must be owned by root")
			}
			err := tt.test(tt.path)
			switch {
			case tt.want == "" && err != nil:
				if os.Geteuid() != 0 && strings.Contains(err.Error(), "owned by uid") {
					t.Skip("needs root")
				}
				t.Errorf("%s: unexpected error %v", tt.path, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("%s: err = %v, want %q", tt.path, err, tt.want)
			case err != nil && err.(*binaryError).remedy == "":
				t.Errorf("%s: no remedy for %v", tt.path, err)
			}
		})
	}
}

func TestRootOwnedOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	p := elfCopy(t, dir, "dockerd", 0o755)
	os.Chown(p, 65534, 65534)
	if err := rootOwned(p); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("err = %v", err)
	}
	os.Chown(p, 0, 0)
	os.Chown(dir, 65534, 65534)
	if err := rootOwned(p); err == nil || !strings.Contains(err.Error(), "is owned by uid 65534, who could replace") {
		t.Errorf("err = %v", err)
	}
}

func TestSHA256Verdict(t *testing.T) {
	dir := t.TempDir()
	p := write(t, filepath.Join(dir, "f"), "abc", 0o755)
	const sum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	tests := []struct {
		name   string
		sha    string
		skip   bool
		want   Status
		substr string
	}{
		{"match", sum, false, OK, "matches"},
		{"match upper case", strings.ToUpper(sum), false, OK, "matches"},
		{"mismatch", strings.Repeat("0", 64), false, Fail, "expected 0000"},
		{"missing", "", false, Fail, "no expected sha256"},
		{"missing but waived", "", true, Warn, "not verified"},
		{"mismatch even when waived", strings.Repeat("1", 64), true, Fail, "sha256 is " + sum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, msg, remedy := sha256Verdict(plan.Binary{NewFile: p, SHA256: tt.sha}, tt.skip)
			if s != tt.want || !strings.Contains(msg, tt.substr) {
				t.Errorf("= %s %q, want %s with %q", s, msg, tt.want, tt.substr)
			}
			if s != OK && remedy == "" {
				t.Error("no remedy")
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	dir := t.TempDir()
	// A binary that answers gets a timeout no loaded machine reaches; the
	// one that hangs gets a short one, and must be killed with its children
	// long before its 30 s sleeps end.
	const answers, hangs = time.Minute, 300 * time.Millisecond
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		want    string
		wantErr string
	}{
		{"docker", "echo 'Docker version 20.11.0, build x'", answers, "20.11.0", ""},
		{"liveswapd on stderr", "echo 'liveswapd version 1.2.3' >&2", answers, "1.2.3", ""},
		{"no version", "echo 'liveswapd version dev'", answers, "", "printed no version"},
		{"exit status", "echo boom; exit 3", answers, "", "exit status 3"},
		{"hangs", "sleep 30 & sleep 30", hangs, "", "did not finish within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, filepath.Join(dir, tt.name), "#!/bin/sh\n"+tt.script+"\n", 0o755)
			begin := time.Now()
			v, err := RunVersion(context.Background(), p, tt.timeout)
			if took := time.Since(begin); tt.timeout == hangs && took > 20*time.Second {
				t.Errorf("took %v: the timeout did not kill the process group", took)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || v.Version != tt.want {
				t.Fatalf("= %+v, %v; want version %s", v, err, tt.want)
			}
		})
	}
}

// TestBinaryVersionGate: liveswap must not run a file whose checksum does
// not match, even to ask its version.
func TestBinaryVersionGate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the gate requires root-owned files")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	p := elfCopy(t, dir, "dockerd", 0o755)
	sum, _ := FileSHA256(p)
	pl := &plan.Plan{Binaries: []plan.Binary{{Path: "/usr/sbin/dockerd", NewFile: p, SHA256: strings.Repeat("0", 64)}}}
	env := NewEnv(pl, Options{VersionTimeout: 5 * time.Second})
	if _, err := env.NewVersion(context.Background()); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("err = %v, want the gate to refuse", err)
	}
	pl.Binaries[0].SHA256 = sum
	env = NewEnv(pl, Options{VersionTimeout: 5 * time.Second})
	// The test binary answers --version with a flag error and no version.
	if _, err := env.NewVersion(context.Background()); err == nil || strings.Contains(err.Error(), "not running") {
		t.Fatalf("err = %v, want the binary to have run", err)
	}
}

func TestBackupNeedAndHumanBytes(t *testing.T) {
	if got := humanBytes(80 << 20); got != "80.0 MiB" {
		t.Errorf("humanBytes = %s", got)
	}
	if got := humanBytes(512); got != "512 B" {
		t.Errorf("humanBytes = %s", got)
	}
	if backupNeed(20) <= 20 {
		t.Error("backupNeed leaves no margin")
	}
}

// TestIdentifyUnknown: a binary that runs but names no component of the
// stack is refused with what it printed.
func TestIdentifyUnknown(t *testing.T) {
	const echo = "/bin/echo"
	sum, err := FileSHA256(echo)
	if err != nil {
		t.Skip(err)
	}
	_, _, err = Identify(context.Background(), plan.Binary{NewFile: echo, SHA256: sum}, false, 5*time.Second)
	if !errors.Is(err, ErrUnknownComponent) || !strings.Contains(err.Error(), "echo --version") {
		t.Fatalf("err %v, want ErrUnknownComponent naming what echo --version printed", err)
	}
	// A file that fails the gate is not run.
	if c, _, err := Identify(context.Background(), plan.Binary{NewFile: echo, SHA256: strings.Repeat("0", 64)}, false, 5*time.Second); c != "" || err == nil || errors.Is(err, ErrUnknownComponent) {
		t.Errorf("checksum mismatch: %q %v, want the gate's error", c, err)
	}
}

// TestIdentifyRelease: Debian's builds, when e2e/releases.sh unpacked them,
// are known by their version probes: the shim by -v, the others by
// --version.
func TestIdentifyRelease(t *testing.T) {
	root := "/var/cache/liveswap/releases/root/containerd_1.7.24~ds1-6+deb13u1/usr/bin/"
	for file, want := range map[string]string{"containerd": plan.Containerd, "containerd-shim-runc-v2": plan.Shim} {
		sum, err := FileSHA256(root + file)
		if err != nil {
			t.Skipf("no unpacked release (e2e/releases.sh): %v", err)
		}
		c, out, err := Identify(context.Background(), plan.Binary{NewFile: root + file, SHA256: sum}, false, 10*time.Second)
		if c != want || err != nil || ExtractVersion(out) != "1.7.24~ds1" {
			t.Errorf("%s: %q %q %v, want %s 1.7.24~ds1", file, c, out, err, want)
		}
	}
}

// TestBinaryVersionExpected: a new binary that reports another release
// than the plan's expectedVersion fails binary.version before any swap;
// the same release with a packaging suffix passes.
func TestBinaryVersionExpected(t *testing.T) {
	tests := []struct {
		reported, expected string
		want               Status
	}{
		{"20.10.24+dfsg1", "20.10.24+dfsg1", OK},
		{"20.10.24+dfsg1", "20.10.24", OK},
		{"20.10.25", "20.10.24", Fail},
		{"1.0.2-e2e", "1.0.1-e2e", Fail},
	}
	for _, tt := range tests {
		t.Run(tt.reported+" for "+tt.expected, func(t *testing.T) {
			b := plan.Binary{Path: "/usr/sbin/dockerd", NewFile: "/new/dockerd", SHA256: strings.Repeat("0", 64), ExpectedVersion: tt.expected}
			env := NewEnv(&plan.Plan{Target: plan.Target{Kind: plan.Docker}, Binaries: []plan.Binary{b}}, Options{})
			// The version the binary printed, as a run of it would record it.
			env.versions = map[string]memo[BinaryVersion]{b.NewFile: {done: true, v: BinaryVersion{Version: tt.reported, Output: "Docker version " + tt.reported}}}
			r := checkBinaryVersion(context.Background(), env)
			if r.Status != tt.want {
				t.Fatalf("%s %q, want %s", r.Status, r.Message, tt.want)
			}
			if r.Status == Fail && (!strings.Contains(r.Message, "the plan expects "+tt.expected) || r.Remedy == "") {
				t.Errorf("message %q remedy %q", r.Message, r.Remedy)
			}
		})
	}
}
