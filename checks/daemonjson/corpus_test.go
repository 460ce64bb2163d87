package daemonjson

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveswap/liveswap/checks/daemonjson/internal/dockerdrun"
)

const corpusDir = "testdata/corpus"

// verdict is one line of testdata/corpus/verdicts.txt.
type verdict struct {
	file   string
	starts bool
	reason string
}

func readVerdicts(t testing.TB) []verdict {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "verdicts.txt"))
	if err != nil {
		t.Fatalf("open verdicts: %v", err)
	}
	defer f.Close()
	var out []verdict
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 2 || (fields[1] != "starts" && fields[1] != "refuses") {
			t.Fatalf("bad verdict line %q", line)
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

// corpusExecStart is the command line the verdict was recorded with.
func corpusExecStart(t testing.TB, file string, content []byte) []string {
	t.Helper()
	extra, err := dockerdrun.ReadExtraFlags(filepath.Join(corpusDir, file))
	if err != nil {
		t.Fatal(err)
	}
	const dir = "/tmp/lsdj-corpus"
	for i := range extra {
		extra[i] = strings.ReplaceAll(extra[i], dockerdrun.Placeholder, dir)
	}
	return append([]string{"/usr/sbin/dockerd"}, dockerdrun.Args(content, dir, extra)...)
}

// TestCorpusAgreesWithDockerd2010 checks the validator's verdict on every
// corpus file against what dockerd 20.10.24 did with it.
func TestCorpusAgreesWithDockerd2010(t *testing.T) {
	verdicts := readVerdicts(t)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	if len(files) != len(verdicts) {
		t.Errorf("corpus has %d files but verdicts.txt %d lines: regenerate with go run ./checks/daemonjson/internal/regen", len(files), len(verdicts))
	}
	agree := 0
	for _, v := range verdicts {
		t.Run(v.file, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join(corpusDir, v.file))
			if err != nil {
				t.Fatal(err)
			}
			r := Validate(content, Options{File: v.file, DockerVersion: "20.10.24", ExecStart: corpusExecStart(t, v.file, content)})
			if r.Starts() != v.starts {
				t.Errorf("validator says starts=%v, dockerd 20.10.24 %s", r.Starts(), map[bool]string{true: "started", false: "refused: " + v.reason}[v.starts])
				for _, f := range r.Findings {
					if f.Severity != OK {
						t.Logf("  %s %s %s", f.Severity, f.ID, f.Message)
					}
				}
				return
			}
			agree++
		})
	}
	t.Logf("validator agrees with dockerd 20.10.24 on %d of %d corpus files", agree, len(verdicts))
	if len(verdicts) < 60 {
		t.Errorf("corpus has %d files, want at least 60", len(verdicts))
	}
}
