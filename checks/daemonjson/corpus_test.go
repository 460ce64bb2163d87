package daemonjson

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
	type row struct{ release, files, agree, falseAccept, falseReject int }
	var table strings.Builder
	fmt.Fprintf(&table, "%-9s %6s %6s %13s %13s\n", "release", "files", "agree", "false accept", "false reject")
	for _, k := range dockerdrun.Known {
		verdicts := readVerdicts(t, k.Name)
		if len(files) != len(verdicts) {
			t.Errorf("corpus has %d files but verdicts-%s.txt %d lines: regenerate with go run ./checks/daemonjson/internal/regen -release %s", len(files), k.Name, len(verdicts), k.Name)
		}
		agree, fa, fr := 0, 0, 0
		for _, v := range verdicts {
			t.Run(k.Name+"/"+v.file, func(t *testing.T) {
				content, err := os.ReadFile(filepath.Join(corpusDir, v.file))
				if err != nil {
					t.Fatal(err)
				}
				// dockerd read the file with @DIR@ replaced by its own directory.
				content = bytes.ReplaceAll(content, []byte(dockerdrun.Placeholder), []byte(corpusRunDir))
				r := Validate(content, Options{File: v.file, DockerVersion: k.Name, ExecStart: corpusExecStart(t, v.file, content)})
				switch {
				case r.Starts() == v.starts:
					agree++
					return
				case r.Starts():
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
		fmt.Fprintf(&table, "%-9s %6d %6d %13d %13d\n", k.Name, len(verdicts), agree, fa, fr)
	}
	t.Logf("validator against real starts:\n%s", table.String())
	if len(files) < minCorpus {
		t.Errorf("corpus has %d files, want at least %d", len(files), minCorpus)
	}
}
