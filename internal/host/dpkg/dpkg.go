// Package dpkg is the adapter to Debian's package tools: it reads .deb files
// (dpkg-deb), asks dpkg's database (dpkg-query, --verify, --audit), installs
// packages with dpkg itself so that its database stays true, and keeps
// maintainer scripts from restarting units while it does (policy-rc.d).
// It runs the real tools; it imports nothing of the project.
package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Deb is what a .deb file says of itself.
type Deb struct {
	File    string
	Name    string
	Version string
	Arch    string
}

// Inspect reads a .deb's control fields.
func Inspect(ctx context.Context, file string) (Deb, error) {
	out, err := run(ctx, nil, "dpkg-deb", "--show", "--showformat=${Package}\t${Version}\t${Architecture}\n", file)
	if err != nil {
		return Deb{}, fmt.Errorf("%s is not a readable .deb: %w", file, err)
	}
	f := strings.Split(strings.TrimSpace(out), "\t")
	if len(f) != 3 || f[0] == "" || f[1] == "" {
		return Deb{}, fmt.Errorf("%s: dpkg-deb printed %q, not package, version and architecture", file, out)
	}
	return Deb{File: file, Name: f[0], Version: f[1], Arch: f[2]}, nil
}

// Extract unpacks the files of a .deb into dir (not its maintainer scripts).
func Extract(ctx context.Context, file, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "dpkg-deb", "--extract", file, dir); err != nil {
		return fmt.Errorf("extracting %s: %w", file, err)
	}
	return nil
}

// Installed is what dpkg's database records of one package.
type Installed struct {
	Name    string
	Version string // empty when not installed
	Status  string // dpkg's abbreviation, "ii" when installed and configured
	Arch    string
}

// OK says the package is installed and configured, with no error flag.
func (i Installed) OK() bool { return i.Status == "ii" }

// Query reads dpkg's record of name; a package dpkg does not know is not
// an error (Version is empty).
func Query(ctx context.Context, name string) (Installed, error) {
	out, err := run(ctx, nil, "dpkg-query", "--show", "--showformat=${db:Status-Abbrev}\t${Version}\t${Architecture}\n", name)
	if err != nil {
		if strings.Contains(err.Error(), "no packages found") {
			return Installed{Name: name}, nil
		}
		return Installed{}, err
	}
	f := strings.Split(strings.TrimRight(out, "\n"), "\t")
	if len(f) != 3 {
		return Installed{}, fmt.Errorf("dpkg-query %s printed %q", name, out)
	}
	i := Installed{Name: name, Status: strings.TrimSpace(f[0]), Version: f[1], Arch: f[2]}
	if strings.HasPrefix(i.Status, "un") || strings.HasPrefix(i.Status, "pn") {
		i.Version = "" // known to dpkg, not installed
	}
	return i, nil
}

// Held lists the packages among names whose selection is "hold"
// (apt-mark hold): apt will not upgrade them.
func Held(ctx context.Context, names ...string) ([]string, error) {
	out, err := run(ctx, nil, "dpkg-query", "--show", "--showformat=${Package}\t${Status}\n")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var held []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		name, status, _ := strings.Cut(sc.Text(), "\t")
		if want[name] && strings.HasPrefix(status, "hold ") {
			held = append(held, name)
		}
	}
	return held, nil
}

// Audit runs `dpkg --audit`: packages half installed or half configured.
// Empty output means none.
func Audit(ctx context.Context) (string, error) {
	return run(ctx, nil, "dpkg", "--audit")
}

// Verify runs `dpkg --verify` of names and returns its lines (a file whose
// checksum differs from the package's, a missing file); none means clean.
// Changed conffiles are dpkg's business and are reported too, marked "c".
func Verify(ctx context.Context, names ...string) ([]string, error) {
	out, err := run(ctx, nil, "dpkg", append([]string{"--verify"}, names...)...)
	lines := nonEmpty(out)
	if err != nil && len(lines) == 0 {
		return nil, err
	}
	return lines, nil
}

// Install installs debs with `dpkg --install`, keeping the host's changed
// conffiles (no prompt: nobody answers one). env is added to dpkg's
// environment (DEBIAN_FRONTEND is set). It returns dpkg's output.
func Install(ctx context.Context, env []string, debs ...string) (string, error) {
	args := append([]string{"--force-confdef", "--force-confold", "--install"}, debs...)
	return run(ctx, append([]string{"DEBIAN_FRONTEND=noninteractive"}, env...), "dpkg", args...)
}

// Files lists the files dpkg records for an installed package.
func Files(ctx context.Context, name string) ([]string, error) {
	out, err := run(ctx, nil, "dpkg-query", "--listfiles", name)
	return nonEmpty(out), err
}

// Locks are dpkg's and apt's lock files, in the order apt takes them.
var Locks = []string{"/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/cache/apt/archives/lock", "/var/lib/apt/lists/lock"}

// LockHolder says which of the lock files another process holds (dpkg and
// apt use fcntl locks); "" when none is held. Only an open for reading and
// a test (F_GETLK) are made: no lock is taken.
func LockHolder() (string, error) {
	for _, p := range Locks {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
		err = syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("testing the lock %s: %w", p, err)
		}
		if lk.Type != syscall.F_UNLCK {
			return fmt.Sprintf("%s (held by PID %d)", p, lk.Pid), nil
		}
	}
	return "", nil
}

// ArchiveFile is where apt keeps a downloaded package (apt-get install and
// download name files so: an epoch's colon is written %3a).
func ArchiveFile(dir, name, version, arch string) string {
	return filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", name, strings.ReplaceAll(version, ":", "%3a"), arch))
}

// AptArchives is apt's default cache of downloaded packages.
const AptArchives = "/var/cache/apt/archives"

// AptDownload fetches name=version into dir with `apt-get download` (the
// host's sources; apt checks the archive's signatures) and returns the file.
func AptDownload(ctx context.Context, dir, name, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "apt-get", "download", "-q", name+"="+version)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("apt-get download %s=%s: %v: %s", name, version, err, lastLine(out.String()))
	}
	m, _ := filepath.Glob(filepath.Join(dir, name+"_*.deb"))
	for _, f := range m {
		if d, err := Inspect(ctx, f); err == nil && d.Name == name && d.Version == version {
			return f, nil
		}
	}
	return "", fmt.Errorf("apt-get download %s=%s left no such .deb in %s", name, version, dir)
}

// AptCandidate says whether one of apt's sources offers name=version (it
// could be downloaded), without downloading it. `apt-cache show` would
// also find a version only because dpkg has it installed; madison lists
// the sources' versions alone.
func AptCandidate(ctx context.Context, name, version string) bool {
	out, err := run(ctx, nil, "apt-cache", "madison", name)
	if err != nil {
		return false
	}
	return madisonHas(out, version)
}

func madisonHas(out, version string) bool {
	for _, l := range nonEmpty(out) {
		if f := strings.Split(l, "|"); len(f) >= 3 && strings.TrimSpace(f[1]) == version {
			return true
		}
	}
	return false
}

func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = lastLine(out.String())
		}
		return out.String() + errb.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.String() + errb.String(), nil
}

func nonEmpty(s string) []string {
	var l []string
	for _, x := range strings.Split(s, "\n") {
		if strings.TrimSpace(x) != "" {
			l = append(l, x)
		}
	}
	return l
}

func lastLine(s string) string {
	l := nonEmpty(s)
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}
