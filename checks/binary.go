package checks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/liveswap/liveswap/plan"
)

// binaryChecks verify each new binary of the plan before anything runs it.
func binaryChecks() []Check {
	return []Check{
		{ID: "binary.exists", Description: "the binary to replace and its new file exist", Func: checkBinaryExists},
		{ID: "binary.regular", Description: "the new binary is a regular file, not a symlink or device", Func: perNewBinary(regularFile)},
		{ID: "binary.elf", Description: "the new binary is an ELF executable for this machine's architecture", Func: perNewBinary(func(p string) error { return elfFor(p, runtime.GOARCH) })},
		{ID: "binary.executable", Description: "the new binary has execute permission", Func: perNewBinary(executable)},
		{ID: "binary.owner", Description: "the new binary and its folder are owned by root and not writable by group or others", Func: perNewBinary(rootOwned)},
		{ID: "binary.sha256", Description: "the new binary's sha256 equals the expected one", Func: checkSHA256},
		{ID: "binary.version", Description: "the new binary runs `--version` in time and reports a version", Func: checkBinaryVersion},
		{ID: "binary.backup-space", Description: "the folder of the binary has room for the staged copy and the backup", Func: checkBackupSpace},
	}
}

// newBinaries are the plan's binaries that have a new file to check.
func newBinaries(p *plan.Plan) []plan.Binary {
	var out []plan.Binary
	for _, b := range p.Binaries {
		if b.NewFile != "" {
			out = append(out, b)
		}
	}
	return out
}

const noNewBinary = "no new binary given (--new-binary)"

// perNewBinary turns a per-file test into a check over every new binary.
func perNewBinary(test func(path string) error) func(context.Context, *Env) Result {
	return func(_ context.Context, env *Env) Result {
		bins := newBinaries(env.Plan)
		if len(bins) == 0 {
			return skip(noNewBinary)
		}
		var errs, good []string
		remedy := ""
		for _, b := range bins {
			err := test(b.NewFile)
			if err == nil {
				good = append(good, b.NewFile)
				continue
			}
			errs = append(errs, err.Error())
			var be *binaryError
			if errors.As(err, &be) && remedy == "" {
				remedy = be.remedy
			}
		}
		if len(errs) > 0 {
			return fail(remedy, "%s", strings.Join(errs, "; "))
		}
		return ok("%s", strings.Join(good, ", "))
	}
}

// binaryError is a problem with a file and what to do about it.
type binaryError struct {
	path, problem, remedy string
}

func (e *binaryError) Error() string { return e.path + ": " + e.problem }

func berr(path, remedy, format string, a ...any) error {
	return &binaryError{path: path, problem: fmt.Sprintf(format, a...), remedy: remedy}
}

func checkBinaryExists(_ context.Context, env *Env) Result {
	if len(env.Plan.Binaries) == 0 {
		return fail("give --new-binary, or list binaries in the plan", "the plan lists no binary")
	}
	var errs, found []string
	for _, b := range env.Plan.Binaries {
		if _, err := os.Stat(b.Path); err != nil {
			errs = append(errs, fmt.Sprintf("current binary %s: %v", b.Path, unwrapPath(err)))
		} else {
			found = append(found, b.Path)
		}
		if b.NewFile == "" {
			continue
		}
		if _, err := os.Lstat(b.NewFile); err != nil {
			errs = append(errs, fmt.Sprintf("new binary %s: %v", b.NewFile, unwrapPath(err)))
		} else {
			found = append(found, b.NewFile)
		}
	}
	if len(errs) > 0 {
		return fail("check the paths: the current binary comes from the unit's ExecStart (or the plan), the new one from --new-binary", "%s", strings.Join(errs, "; "))
	}
	r := ok("%s", strings.Join(found, ", "))
	if len(newBinaries(env.Plan)) == 0 {
		r.Message += "; " + noNewBinary + ": the other binary checks are skipped"
	}
	return r
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// regularFile refuses symlinks and anything but a plain file: what is
// checked must be what gets copied.
func regularFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return berr(path, "check --new-binary", "%v", unwrapPath(err))
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		return berr(path, "pass the real file: --new-binary "+resolve(path, target), "is a symlink to %s", target)
	case !fi.Mode().IsRegular():
		return berr(path, "pass a regular file", "is not a regular file (%s)", fi.Mode().Type())
	}
	return nil
}

func resolve(path, target string) string {
	if filepath.IsAbs(target) {
		return target
	}
	return filepath.Join(filepath.Dir(path), target)
}

// elfMachines maps GOARCH to the ELF machine and class a binary must have.
var elfMachines = map[string]struct {
	machine elf.Machine
	class   elf.Class
}{
	"amd64":   {elf.EM_X86_64, elf.ELFCLASS64},
	"386":     {elf.EM_386, elf.ELFCLASS32},
	"arm64":   {elf.EM_AARCH64, elf.ELFCLASS64},
	"arm":     {elf.EM_ARM, elf.ELFCLASS32},
	"riscv64": {elf.EM_RISCV, elf.ELFCLASS64},
	"ppc64le": {elf.EM_PPC64, elf.ELFCLASS64},
	"s390x":   {elf.EM_S390, elf.ELFCLASS64},
}

// elfFor checks that path is an ELF executable for goarch.
func elfFor(path, goarch string) error {
	f, err := elf.Open(path)
	if err != nil {
		head := make([]byte, 4)
		if fh, oerr := os.Open(path); oerr == nil {
			io.ReadFull(fh, head)
			fh.Close()
		}
		if bytes.HasPrefix(head, []byte("#!")) {
			return berr(path, "pass the daemon binary itself, not a wrapper script", "is a script, not an ELF binary")
		}
		return berr(path, "pass a daemon binary built for this machine", "is not an ELF binary: %v", err)
	}
	defer f.Close()
	want, known := elfMachines[goarch]
	if known && (f.Machine != want.machine || f.Class != want.class) {
		return berr(path, "download or build the binary for "+goarch, "is an ELF for %s (%s), this machine is %s", f.Machine, f.Class, goarch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return berr(path, "pass an executable, not an object file", "is an ELF %s, not an executable", f.Type)
	}
	return nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return berr(path, "check --new-binary", "%v", unwrapPath(err))
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return berr(path, "chmod 0755 "+path, "is not executable (mode %04o)", fi.Mode().Perm())
	}
	return nil
}

// rootOwned: whoever can write the file or its folder can change what root
// will run between this check and the swap.
func rootOwned(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return berr(path, "check --new-binary", "%v", unwrapPath(err))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return berr(path, "chown root:root "+path, "is owned by uid %d, not root", st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return berr(path, "chmod go-w "+path, "is writable by group or others (mode %04o)", fi.Mode().Perm())
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return berr(path, "check --new-binary", "folder: %v", unwrapPath(err))
	}
	if st, ok := di.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return berr(path, "stage the new binary in a folder owned by root", "its folder %s is owned by uid %d, who could replace the file", dir, st.Uid)
	}
	if di.Mode().Perm()&0o022 != 0 && di.Mode()&fs.ModeSticky == 0 {
		return berr(path, "stage the new binary in a folder only root can write", "its folder %s is writable by group or others (mode %04o), who could replace the file", dir, di.Mode().Perm())
	}
	return nil
}

// FileSHA256 returns the hex sha256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sha256Verdict compares a binary's checksum with the expected one.
func sha256Verdict(b plan.Binary, skipChecksum bool) (Status, string, string) {
	sum, err := FileSHA256(b.NewFile)
	if err != nil {
		return Fail, fmt.Sprintf("%s: %v", b.NewFile, unwrapPath(err)), "check --new-binary"
	}
	want := strings.ToLower(strings.TrimSpace(b.SHA256))
	switch {
	case want == "" && skipChecksum:
		return Warn, fmt.Sprintf("%s: sha256 %s not verified (--insecure-skip-checksum)", b.NewFile, sum), "pass --sha256 from the release's checksum file"
	case want == "":
		return Fail, fmt.Sprintf("%s: no expected sha256 given (its sha256 is %s)", b.NewFile, sum),
			"pass --sha256 HEX from the release's checksum file (not from the file itself), or --insecure-skip-checksum"
	case want != sum:
		return Fail, fmt.Sprintf("%s: sha256 is %s, expected %s", b.NewFile, sum, want),
			"the file is not the release you meant: download it again and compare with the published checksum"
	}
	return OK, fmt.Sprintf("%s: sha256 %s matches", b.NewFile, sum), ""
}

func checkSHA256(_ context.Context, env *Env) Result {
	bins := newBinaries(env.Plan)
	if len(bins) == 0 {
		return skip(noNewBinary)
	}
	var statuses []Status
	var msgs []string
	var remedy string
	for _, b := range bins {
		s, msg, rem := sha256Verdict(b, env.Plan.Policy.InsecureSkipChecksum)
		statuses = append(statuses, s)
		msgs = append(msgs, msg)
		if s != OK && remedy == "" {
			remedy = rem
		}
	}
	return Result{Status: worst(statuses...), Message: strings.Join(msgs, "; "), Remedy: remedy}
}

// BinaryVersion is what a binary said when asked for its version.
type BinaryVersion struct {
	Output  string // first line of its output
	Version string // the version found in it ("" when none)
}

// safeToRun is the gate before liveswap, as root, executes a file it was
// handed: only a root-owned regular ELF for this machine whose checksum
// matches (or whose check the operator waived) is run.
func safeToRun(b plan.Binary, skipChecksum bool) error {
	for _, test := range []func(string) error{regularFile, func(p string) error { return elfFor(p, runtime.GOARCH) }, executable, rootOwned} {
		if err := test(b.NewFile); err != nil {
			return err
		}
	}
	if s, msg, _ := sha256Verdict(b, skipChecksum); s == Fail {
		return errors.New(msg)
	}
	return nil
}

// RunVersion runs `path --version` with a timeout and a bare environment
// and extracts the version it prints.
func RunVersion(ctx context.Context, path string, timeout time.Duration) (BinaryVersion, error) {
	return RunVersionArgs(ctx, path, []string{"--version"}, timeout)
}

// RunVersionArgs runs `path ARGS...` (a component's version arguments: the
// shim knows -v only) as RunVersion does.
func RunVersionArgs(ctx context.Context, path string, args []string, timeout time.Duration) (BinaryVersion, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	flag := strings.Join(args, " ")
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.Dir = "/"
	var out limitedBuffer
	out.max = 64 << 10
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so a timeout kills whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	all := strings.TrimSpace(out.String())
	first, _, _ := strings.Cut(all, "\n")
	bv := BinaryVersion{Output: first, Version: ExtractVersion(first)}
	if bv.Version == "" { // the shim: its path, then "Version: 1.7.24~ds1"
		if v := ExtractVersion(all); v != "" {
			bv.Output, bv.Version = strings.Join(strings.Fields(all), " "), v
		}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return bv, fmt.Errorf("%s %s did not finish within %s", path, flag, timeout)
	}
	if err != nil {
		return bv, fmt.Errorf("%s %s: %v (output: %q)", path, flag, err, first)
	}
	if bv.Version == "" {
		return bv, fmt.Errorf("%s %s printed no version: %q", path, flag, first)
	}
	return bv, nil
}

type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// BinaryVersion runs the new file of b (once per run) after the safety gate.
func (e *Env) BinaryVersion(ctx context.Context, b plan.Binary) (BinaryVersion, error) {
	e.mu.Lock()
	if e.versions == nil {
		e.versions = map[string]memo[BinaryVersion]{}
	}
	m, done := e.versions[b.NewFile]
	e.mu.Unlock()
	if done {
		return m.v, m.err
	}
	var v BinaryVersion
	err := safeToRun(b, e.Plan.Policy.InsecureSkipChecksum)
	if err != nil {
		err = fmt.Errorf("not running %s: %w", b.NewFile, err)
	} else {
		v, err = RunVersionArgs(ctx, b.NewFile, e.Plan.ComponentOf(b).VersionArgs, e.Options.VersionTimeout)
	}
	e.mu.Lock()
	e.versions[b.NewFile] = memo[BinaryVersion]{done: true, v: v, err: err}
	e.mu.Unlock()
	return v, err
}

// NewVersion is the version of the new daemon binary.
func (e *Env) NewVersion(ctx context.Context) (BinaryVersion, error) {
	d := e.Plan.Daemon()
	if d == nil || d.NewFile == "" {
		return BinaryVersion{}, errors.New(noNewBinary)
	}
	return e.BinaryVersion(ctx, *d)
}

func checkBinaryVersion(ctx context.Context, env *Env) Result {
	bins := newBinaries(env.Plan)
	if len(bins) == 0 {
		return skip(noNewBinary)
	}
	var msgs []string
	for _, b := range bins {
		v, err := env.BinaryVersion(ctx, b)
		if err != nil {
			return fail("fix the binary checks above first; a binary that cannot report its version will not start either", "%v", err)
		}
		if b.ExpectedVersion != "" && !sameVersion(v.Version, b.ExpectedVersion) {
			return fail("check that --new-binary is the release the plan expects, or fix expectedVersion in the plan",
				"%s reports %s, the plan expects %s", b.NewFile, v.Version, b.ExpectedVersion)
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s", b.NewFile, v.Output))
	}
	return ok("%s", strings.Join(msgs, "; "))
}

// sameVersion compares as versions when both parse, else as strings.
func sameVersion(a, b string) bool {
	va, errA := ParseVersion(a)
	vb, errB := ParseVersion(b)
	if errA == nil && errB == nil {
		return va.Compare(vb) == 0 && (va.Build == vb.Build || va.Build == "" || vb.Build == "")
	}
	return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v")
}

// backupNeed is the room a swap needs beside the current binary: the staged
// copy of the new file and a margin. The backup of the old binary is a hard
// link to it (upgrade keeps it under a second name), so it costs nothing.
func backupNeed(newSize int64) int64 { return newSize + 1<<20 }

func checkBackupSpace(_ context.Context, env *Env) Result {
	bins := newBinaries(env.Plan)
	if len(bins) == 0 {
		return skip(noNewBinary)
	}
	need := map[string]int64{} // per filesystem folder
	var order []string
	for _, b := range bins {
		_, err := os.Stat(b.Path)
		if err != nil {
			return fail("check the current binary's path", "%s: %v", b.Path, unwrapPath(err))
		}
		ni, err := os.Stat(b.NewFile)
		if err != nil {
			return fail("check --new-binary", "%s: %v", b.NewFile, unwrapPath(err))
		}
		dir := filepath.Dir(b.Path)
		if _, seen := need[dir]; !seen {
			order = append(order, dir)
		}
		need[dir] += backupNeed(ni.Size())
	}
	var msgs []string
	for _, dir := range order {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			return fail("check the current binary's folder", "statfs %s: %v", dir, err)
		}
		free := int64(st.Bavail) * st.Bsize
		if free < need[dir] {
			return fail(fmt.Sprintf("free at least %s on the filesystem of %s", humanBytes(need[dir]-free), dir),
				"%s has %s free, the swap needs %s for the staged copy of the new binary", dir, humanBytes(free), humanBytes(need[dir]))
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s free, %s needed", dir, humanBytes(free), humanBytes(need[dir])))
	}
	return ok("%s", strings.Join(msgs, "; "))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ErrUnknownComponent: a new binary's version probes name no component of
// the stack.
var ErrUnknownComponent = errors.New("matches no component of the stack")

// Identify names the component a new binary is by what its version probe
// prints — never by its file name — after the same gate as the binary
// checks. A file that does not pass the gate is not run: it returns "" and
// the gate's error, for the binary checks to report. A file that runs but
// whose output names no component returns ErrUnknownComponent with what it
// printed.
func Identify(ctx context.Context, b plan.Binary, skipChecksum bool, timeout time.Duration) (component, output string, err error) {
	if err := safeToRun(b, skipChecksum); err != nil {
		return "", "", err
	}
	var printed []string
	for _, args := range plan.VersionArgSets() {
		v, _ := RunVersionArgs(ctx, b.NewFile, args, timeout)
		if v.Output == "" {
			continue
		}
		if c := plan.ComponentSaying(args, v.Output); c != "" {
			return c, v.Output, nil
		}
		printed = append(printed, fmt.Sprintf("%s %s: %q", filepath.Base(b.NewFile), strings.Join(args, " "), v.Output))
	}
	if len(printed) == 0 {
		printed = []string{"nothing"}
	}
	return "", "", fmt.Errorf("%s %w (%s); known: %s", b.NewFile, ErrUnknownComponent, strings.Join(printed, "; "), strings.Join(plan.ComponentNames(), ", "))
}
