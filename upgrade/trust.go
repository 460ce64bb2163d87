package upgrade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/liveswap/liveswap/checks"
	"github.com/liveswap/liveswap/internal/host/state"
)

// ErrUntrusted: a file liveswap would install or run as root, or its state
// folder, can be changed by another user, or is not what the plan says.
// The run is refused and nothing is changed.
var ErrUntrusted = state.ErrUntrusted

// checkBinary checks the file a unit is about to run, just before liveswap
// installs or starts it: a regular file (not a link) of root's, writable by
// no one else, in a folder no one else can change, an ELF executable, and
// with sha256 want when want is set. It reads the file through the
// descriptor it checked.
func checkBinary(what, path, want string) error {
	f, err := state.OpenTrusted(what, path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if !bytes.Equal(head[:n], []byte("\x7fELF")) {
		return fmt.Errorf("%w: %s %s is not an ELF executable (it starts %q)", ErrUntrusted, what, path, head[:n])
	}
	h.Write(head[:n])
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s %s: %w", what, path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); want != "" && got != want {
		return fmt.Errorf("%w: %s %s has sha256 %s, want %s: it changed after it was planned or staged", ErrUntrusted, what, path, got, want)
	}
	return nil
}

// stagedSHA is the sha256 of the staged copy: the plan's, which Stage
// verified, or computed when the plan has none (insecureSkipChecksum).
func stagedSHA(staged, planned string) (string, error) {
	if planned != "" {
		return planned, nil
	}
	return checks.FileSHA256(staged)
}

// recheck checks every binary the next phases install or run, right
// before they do: a resumed run trusts neither the files an earlier
// process left nor its own journal's word that they are good. Before the
// swap that is each staged copy; after it (a run resumed past its swap)
// each file in place.
func (r *run) recheck(_ context.Context) (string, error) {
	var errs []error
	for i, s := range r.swaps {
		want := s.NewSHA256
		if i < len(r.plan.Binaries) && r.plan.Binaries[i].Path == s.Path && r.plan.Binaries[i].SHA256 != "" {
			want = r.plan.Binaries[i].SHA256
		}
		what, path := "staged binary", s.Staged
		if _, err := os.Lstat(s.Staged); r.swapped || (errors.Is(err, os.ErrNotExist) && exists(s.Backup)) {
			what, path = "swapped-in binary", s.Path // swapIn will find it done
		}
		if err := checkBinary(what, path, want); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d binaries checked", len(r.swaps)), nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
