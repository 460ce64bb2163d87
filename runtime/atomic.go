package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/internal/host/atomicfile"
)

// removeDirAtomic deletes a folder by first renaming it to a hidden name, so
// a crash half-way leaves nothing a loader would pick up (loaders skip
// hidden names and sweep them).
func removeDirAtomic(dir string) error {
	parent, base := filepath.Split(filepath.Clean(dir))
	hidden := filepath.Join(parent, "."+base+".removing-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(dir, hidden); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return err
	}
	if err := os.RemoveAll(hidden); err != nil {
		return fmt.Errorf("removing %s: %w", hidden, err)
	}
	return nil
}

// sweepHidden removes leftovers of interrupted removals in dir.
func sweepHidden(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".removing-") {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
