package daemonjson

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/checks/daemonjson/internal/dockerdrun"
)

const corpusDir = "testdata/corpus"

// verdict is one line of a testdata/corpus/verdicts-RELEASE.txt.
type verdict struct {
	file   string
	starts bool
	reason string
}

// readVerdicts reads what the release's real dockerd did with each file.
func readVerdicts(t testing.TB, release string) []verdict {
	t.Helper()
	name := filepath.Join(corpusDir, "verdicts-"+release+".txt")
	f, err := os.Open(name)
	if err != nil {
		t.Fatalf("open verdicts: %v (regenerate: go run ./checks/daemonjson/internal/regen -release %s)", err, release)
	}
	defer f.Close()
	var out []verdict
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 2 || (fields[1] != "starts" && fields[1] != "refuses") {
			t.Fatalf("%s:%d: bad verdict line %q: want FILE starts|refuses [MESSAGE]", name, n, line)
		}
		v := verdict{file: fields[0], starts: fields[1] == "starts"}
		if len(fields) == 3 {
			v.reason = fields[2]
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// corpusRunDir stands for a run's private directory (@DIR@).
const corpusRunDir = "/tmp/lsdj-corpus"

// corpusExecStart is the command line the verdicts were recorded with.
func corpusExecStart(t testing.TB, file string, content []byte) []string {
	t.Helper()
	extra, err := dockerdrun.ReadExtraFlags(filepath.Join(corpusDir, file))
	if err != nil {
		t.Fatal(err)
	}
	for i := range extra {
		extra[i] = strings.ReplaceAll(extra[i], dockerdrun.Placeholder, corpusRunDir)
	}
	return append([]string{"/usr/sbin/dockerd"}, dockerdrun.Args(content, corpusRunDir, extra)...)
}

// minCorpus is the size the corpus must keep: fewer files would let rules
// pass that real starts refute.
const minCorpus = 300

// TestCorpusAgreesWithEveryRelease checks the validator's verdict on every
// corpus file against a real start of each release the oracle knows, with
// the rules that release's --docker-version selects, and prints the table
// of agreement.
func TestCorpusAgreesWithEveryRelease(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	var table strings.Builder
	fmt.Fprintf(&table, "%-9s %6s %6s %13s %13s %15s\n", "release", "files", "agree", "false accept", "false reject", "host-dependent")
	for _, k := range dockerdrun.Known {
		verdicts := readVerdicts(t, k.Name)
		fsType := recordedFS(t, k.Name)
		if len(files) != len(verdicts) {
			t.Errorf("corpus has %d files but verdicts-%s.txt %d lines: regenerate with go run ./checks/daemonjson/internal/regen -release %s", len(files), k.Name, len(verdicts), k.Name)
		}
		agree, fa, fr, hostDep := 0, 0, 0, 0
		for _, v := range verdicts {
			t.Run(k.Name+"/"+v.file, func(t *testing.T) {
				content, err := os.ReadFile(filepath.Join(corpusDir, v.file))
				if err != nil {
					t.Fatal(err)
				}
				// dockerd read the file with @DIR@ replaced by its own directory.
				content = bytes.ReplaceAll(content, []byte(dockerdrun.Placeholder), []byte(corpusRunDir))
				opts := Options{File: v.file, DockerVersion: k.Name, ExecStart: corpusExecStart(t, v.file, content)}
				r := Validate(content, opts)
				// The host the verdict was recorded on: the oracle's sandbox.
				hostFails := false
				for _, f := range CheckHost(content, opts, sandboxHost{fsType: fsType}) {
					r.Findings = append(r.Findings, f)
					hostFails = hostFails || f.Severity == Fail
				}
				if hostFails && !v.starts {
					hostDep++
				}
				switch {
				case (r.Starts() && !hostFails) == v.starts:
					agree++
					return
				case r.Starts() && !hostFails:
					fa++
					t.Errorf("false accept: the %s rules say it starts, dockerd %s refused: %s", r.DockerVersion, k.Name, v.reason)
				default:
					fr++
					t.Errorf("false reject: the %s rules refuse it, dockerd %s started", r.DockerVersion, k.Name)
				}
				for _, f := range r.Findings {
					if f.Severity == Fail {
						t.Logf("  %s %s %s", f.Severity, f.ID, f.Message)
					}
				}
			})
		}
		fmt.Fprintf(&table, "%-9s %6d %6d %13d %13d %15d\n", k.Name, len(verdicts), agree, fa, fr, hostDep)
		if agree != len(verdicts) || len(files) != len(verdicts) {
			t.Errorf("dockerd %s: agreement %d of %d corpus files (%d files), want all", k.Name, agree, len(verdicts), len(files))
		}
	}
	t.Logf("validator against real starts:\n%s", table.String())
	if len(files) < minCorpus {
		t.Errorf("corpus has %d files, want at least %d", len(files), minCorpus)
	}
}

// sandboxHost is the host as the oracle's sandbox showed it to dockerd:
// the host's /etc, an empty /run, only the loopback interface, no name
// resolution, and the run's private directory (corpusRunDir) holding the
// corpus's files/ folder on the temporary folder's file system.
type sandboxHost struct {
	fsType string // of the temporary folder, as the verdicts' header records it
}

var hostLine = regexp.MustCompile(`(?m)^# Host: .*, (\S+) under \S+\.`)

// recordedFS is the file system the release's verdicts were recorded on.
func recordedFS(t testing.TB, release string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "verdicts-"+release+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := hostLine.FindSubmatch(b)
	if m == nil {
		t.Fatalf("verdicts-%s.txt has no \"# Host: ..., FS under DIR.\" line: regenerate it", release)
	}
	return string(m[1])
}

func (sandboxHost) path(p string) (string, error) {
	switch {
	case p == "/run" || strings.HasPrefix(p, "/run/") || strings.HasPrefix(p, "/var/run/"):
		return "", &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	case p == corpusRunDir:
		return filepath.Abs(corpusDir)
	case strings.HasPrefix(p, corpusRunDir+"/"):
		return filepath.Abs(filepath.Join(corpusDir, strings.TrimPrefix(p, corpusRunDir+"/")))
	}
	return p, nil
}

func (h sandboxHost) ReadFile(p string) ([]byte, error) {
	q, err := h.path(p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(q)
}

func (h sandboxHost) Stat(p string) (fs.FileInfo, error) {
	q, err := h.path(p)
	if err != nil {
		return nil, err
	}
	return os.Stat(q)
}

func (h sandboxHost) ReadDir(p string) ([]fs.DirEntry, error) {
	q, err := h.path(p)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(q)
}

func (sandboxHost) Interfaces() ([]string, error) { return []string{"lo"}, nil }
func (sandboxHost) Resolve(name string) error {
	return fmt.Errorf("lookup %s: network is unreachable", name)
}
func (h sandboxHost) FSType(p string) (string, error) {
	if strings.HasPrefix(p, corpusRunDir) {
		return h.fsType, nil
	}
	return FSTypeOf(p)
}
func (sandboxHost) SELinux() bool                 { return LocalHost{}.SELinux() }
func (sandboxHost) SocketActivated() (bool, bool) { return false, true }
