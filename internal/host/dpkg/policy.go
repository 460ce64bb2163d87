package dpkg

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
)

// PolicyPath is where invoke-rc.d and deb-systemd-invoke look for the
// host's policy (Debian's policy-rc.d interface, /usr/share/doc/init-system-helpers
// and sysv-rc's README.policy-rc.d): exit 101 means "action forbidden", and
// the maintainer script's start, stop or restart does not happen.
const PolicyPath = "/usr/sbin/policy-rc.d"

// marker is the second line of liveswap's policy: it names the run and
// where the host's own policy was kept, so that any later liveswap (after a
// crash) can put the host's back without the journal.
const marker = "# liveswap-policy "

// Policy is liveswap's policy-rc.d in place: every request of a
// maintainer script is denied (exit 101) and appended to Log.
type Policy struct {
	Path   string // PolicyPath, or a test's
	Backup string // the host's own policy, kept here; "" when it had none
	Log    string // one line per denied request: "<unit or script> <action>"
}

// DenyActions puts liveswap's policy in place for run, first keeping the
// host's own policy (if any) as backupDir/policy-rc.d.host-<run>. A policy
// an interrupted run left is restored first. Restore undoes it.
func DenyActions(path, backupDir, run, log string) (*Policy, error) {
	if _, err := RestoreLeftover(path); err != nil {
		return nil, err
	}
	p := &Policy{Path: path, Log: log}
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading the host's %s: %w", path, err)
	default:
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		p.Backup = filepath.Join(backupDir, "policy-rc.d.host-"+run)
		if err := atomicfile.WriteFile(p.Backup, old, st.Mode().Perm()); err != nil {
			return nil, fmt.Errorf("keeping the host's %s: %w", path, err)
		}
	}
	host := p.Backup
	if host == "" {
		host = "none"
	}
	script := fmt.Sprintf(`#!/bin/sh
%srun=%s host=%s
# liveswap is installing packages: maintainer scripts may not start, stop
# or restart services (liveswap restarts them itself, in order, and checks
# them). Each request is logged and denied with 101, "action forbidden".
echo "$*" >> '%s'
exit 101
`, marker, run, host, log)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return p, nil
}

// Restore puts the host's own policy back (or removes liveswap's when the
// host had none).
func (p *Policy) Restore() error {
	return restore(p.Path, p.Backup)
}

// Denied returns the requests the policy denied, in order.
func (p *Policy) Denied() []string {
	b, _ := os.ReadFile(p.Log)
	return nonEmpty(string(b))
}

// RestoreLeftover restores the host's policy when path holds the policy of
// a liveswap run that did not restore it (it crashed); it returns that
// run's ID, "" when path is not liveswap's.
func RestoreLeftover(path string) (string, error) {
	run, host, ok, err := readMarker(path)
	if err != nil || !ok {
		return "", err
	}
	if host == "none" {
		host = ""
	}
	return run, restore(path, host)
}

// Leftover names the run whose policy is at path ("" when path is not
// liveswap's), changing nothing.
func Leftover(path string) string {
	run, _, ok, _ := readMarker(path)
	if !ok {
		return ""
	}
	return run
}

func readMarker(path string) (run, host string, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 4096))
	for i := 0; i < 2 && sc.Scan(); i++ {
		rest, found := strings.CutPrefix(sc.Text(), marker)
		if !found {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "run":
				run = v
			case "host":
				host = v
			}
		}
		return run, host, host != "", nil
	}
	return "", "", false, nil
}

func restore(path, backup string) error {
	if backup == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing liveswap's %s: %w", path, err)
		}
		return atomicfile.SyncDir(filepath.Dir(path))
	}
	b, err := os.ReadFile(backup)
	if err != nil {
		return fmt.Errorf("the host's policy-rc.d kept at %s: %w: put it back at %s by hand", backup, err, path)
	}
	st, err := os.Stat(backup)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b, st.Mode().Perm()); err != nil {
		return fmt.Errorf("restoring %s from %s: %w", path, backup, err)
	}
	return os.Remove(backup)
}
