package daemonjson

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/liveswap/liveswap/checks/daemonjson/internal/dockerdrun"
)

var (
	releasesOnce sync.Once
	releases     []dockerdrun.Release
	releasesErr  error
)

// needReleases skips unless the real releases can be run (root; they are
// fetched by e2e/releases.sh); with LIVESWAP_E2E=require a missing
// prerequisite fails the test instead.
func needReleases(t *testing.T) []dockerdrun.Release {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "needs root"
	} else {
		releasesOnce.Do(func() {
			root, err := dockerdrun.ModuleRoot()
			if err == nil {
				releases, err = dockerdrun.FindReleases(root)
			}
			releasesErr = err
		})
		if releasesErr != nil {
			missing = releasesErr.Error()
		}
	}
	if missing == "" {
		return releases
	}
	if os.Getenv("LIVESWAP_E2E") == "require" {
		t.Fatalf("LIVESWAP_E2E=require: %s", missing)
	}
	t.Skip(missing)
	return nil
}

// e2eSample is how many files of the corpus each release re-runs: every
// n-th file, so the sample spans the file classes.
const e2eSample = 6

// TestE2ERecordedVerdictsStillHold re-runs each release's real dockerd,
// sandboxed as the oracle runs it, on a sample of the corpus and checks
// the recorded verdicts, then that nothing it started is left running.
func TestE2ERecordedVerdictsStillHold(t *testing.T) {
	rels := needReleases(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Not t.TempDir(): its long path would push containerd's sockets past
	// the 108-byte limit of unix socket paths.
	tmp, err := os.MkdirTemp("", "lsdje-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	// "userns-remap" needs o+x on every parent of the data-root.
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	// What the sandbox must keep from the host: users (useradd for
	// "userns-remap": "default" runs inside it) and interfaces (docker0).
	passwd, _ := os.ReadFile("/etc/passwd")
	ifaces := hasDocker0(t)
	// Always among the sample: a file that makes dockerd add a user.
	always := map[string]bool{"ops-userns-default.json": true}
	for ri, rel := range rels {
		verdicts := readVerdicts(t, rel.Name)
		step := max(len(verdicts)/e2eSample, 1)
		checked := 0
		// Each release starts at another offset: three releases, three
		// different samples.
		var sample []verdict
		for i := ri * step / len(rels); i < len(verdicts) && len(sample) < e2eSample; i += step {
			sample = append(sample, verdicts[i])
		}
		for _, v := range verdicts {
			if always[v.file] {
				sample = append(sample, v)
			}
		}
		for _, v := range sample {
			checked++
			t.Run(rel.Name+"/"+v.file, func(t *testing.T) {
				content, err := os.ReadFile(filepath.Join(corpusDir, v.file))
				if err != nil {
					t.Fatal(err)
				}
				extra, err := dockerdrun.ReadExtraFlags(filepath.Join(corpusDir, v.file))
				if err != nil {
					t.Fatal(err)
				}
				res, err := dockerdrun.Run(ctx, content, extra, dockerdrun.Options{Release: rel, TempDir: tmp, Files: filepath.Join(corpusDir, "files")})
				if err != nil {
					t.Fatalf("run dockerd %s: %v", rel.Name, err)
				}
				if got := res.Verdict == dockerdrun.Starts; got != v.starts {
					t.Errorf("dockerd %s now %s (%s); verdicts-%s.txt says starts=%v %s", rel.Name, res.Verdict, res.Reason, rel.Name, v.starts, v.reason)
				}
				t.Logf("dockerd %s %s in %.1fs", rel.Name, res.Verdict, res.Duration.Seconds())
			})
		}
		t.Logf("re-ran dockerd %s on %d corpus files", rel.Name, checked)
	}
	if left := dockerdrun.LeftoverProcesses(tmp); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
	if now, _ := os.ReadFile("/etc/passwd"); string(now) != string(passwd) {
		t.Errorf("/etc/passwd changed: the sandbox let useradd reach the host")
	}
	if had, has := ifaces, hasDocker0(t); has && !had {
		t.Errorf("a docker0 interface appeared on the host: the sandbox let dockerd's bridge out")
	}
}

// hasDocker0: other tests may add interfaces meanwhile; only the one
// dockerd makes matters here.
func hasDocker0(t *testing.T) bool {
	t.Helper()
	_, err := net.InterfaceByName("docker0")
	return err == nil
}

// TestE2EValidateWithBinary: dockerd 20.10 has no --validate, which must
// be detected rather than assumed; 26.1.5 has it.
func TestE2EValidateWithBinary(t *testing.T) {
	rels := needReleases(t)
	file := filepath.Join(corpusDir, "valid-live-restore.json")
	for _, rel := range rels {
		res, err := ValidateWithBinary(context.Background(), rel.Dockerd(), file)
		if err != nil {
			t.Fatal(err)
		}
		want := rel.Name >= "23"
		if res.Supported != want || res.Version == "" {
			t.Errorf("dockerd %s: supports --validate = %v, want %v: %+v", rel.Name, res.Supported, want, res)
		}
		if f := res.Finding(); f.Severity != OK {
			t.Errorf("dockerd %s: finding %+v", rel.Name, f)
		}
	}
}
