package daemonjson

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/liveswap/liveswap/checks/daemonjson/internal/dockerdrun"
)

const dockerdPath = "/usr/sbin/dockerd"

// needDockerd skips unless the real dockerd can be run; with
// LIVESWAP_E2E=require a missing prerequisite fails the test instead.
func needDockerd(t *testing.T) {
	t.Helper()
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "needs root"
	case !executable(dockerdPath):
		missing = dockerdPath + " not installed (make deps)"
	}
	if _, err := os.Stat("/run/containerd/containerd.sock"); missing == "" && err == nil {
		missing = "a host containerd runs at /run/containerd/containerd.sock; the test daemon would share it"
	}
	if missing == "" {
		return
	}
	if os.Getenv("LIVESWAP_E2E") == "require" {
		t.Fatalf("LIVESWAP_E2E=require: %s", missing)
	}
	t.Skip(missing)
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// TestE2ERecordedVerdictsStillHold re-runs the real dockerd on a sample of
// the corpus and checks the recorded verdicts, then that no daemon or
// containerd it started is left running.
func TestE2ERecordedVerdictsStillHold(t *testing.T) {
	needDockerd(t)
	verdicts := readVerdicts(t)
	const sample = 10
	step := len(verdicts) / sample
	if step == 0 {
		step = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Not t.TempDir(): its long path would push containerd's sockets past
	// the 108-byte limit of unix socket paths.
	tmp, err := os.MkdirTemp("", "lsdje-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	checked := 0
	for i := 0; i < len(verdicts) && checked < sample; i += step {
		v := verdicts[i]
		checked++
		t.Run(v.file, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join(corpusDir, v.file))
			if err != nil {
				t.Fatal(err)
			}
			extra, err := dockerdrun.ReadExtraFlags(filepath.Join(corpusDir, v.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := dockerdrun.Run(ctx, content, extra, dockerdrun.Options{Dockerd: dockerdPath, TempDir: tmp})
			if err != nil {
				t.Fatalf("run dockerd: %v", err)
			}
			if got := res.Verdict == dockerdrun.Starts; got != v.starts {
				t.Errorf("dockerd now %s (%s); verdicts.txt says starts=%v", res.Verdict, res.Reason, v.starts)
			}
		})
	}
	if left := dockerdrun.LeftoverProcesses(tmp); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
	t.Logf("re-ran dockerd on %d corpus files", checked)
}

// TestE2EValidateWithBinary2010: dockerd 20.10 has no --validate, which
// must be detected rather than assumed.
func TestE2EValidateWithBinary2010(t *testing.T) {
	needDockerd(t)
	file := filepath.Join(corpusDir, "valid-live-restore.json")
	res, err := ValidateWithBinary(context.Background(), dockerdPath, file)
	if err != nil {
		t.Fatal(err)
	}
	if res.Supported || res.Version == "" {
		t.Errorf("dockerd 20.10 reported as supporting --validate: %+v", res)
	}
	if f := res.Finding(); f.Severity != OK {
		t.Errorf("finding %+v", f)
	}
}
