package upgrade

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/liveswap/liveswap/internal/host/state"
	"github.com/liveswap/liveswap/plan"
)

// DefaultStateDir holds the journal, the lock and per-run files.
const DefaultStateDir = state.DefaultDir

// Swap records one binary replacement: written to the journal before the
// first file moves, so a crash at any point leaves a way back.
type Swap struct {
	Path        string `json:"path"`
	Staged      string `json:"staged"`
	Backup      string `json:"backup"`
	FromVersion string `json:"from_version,omitempty"`
	// BackupSHA256 is the sha256 of the file the backup keeps (the target
	// as it was before the swap): status and rollback check it.
	BackupSHA256 string `json:"backup_sha256,omitempty"`
}

// Entry is one line of the journal.
type Entry struct {
	Time   time.Time  `json:"time"`
	Run    string     `json:"run"`
	Phase  string     `json:"phase"`
	Status string     `json:"status"` // begin, started, done, failed, end
	Error  string     `json:"error,omitempty"`
	Result Result     `json:"result,omitempty"` // on "end"
	Plan   *plan.Plan `json:"plan,omitempty"`   // on "begin"
	Swaps  []Swap     `json:"swaps,omitempty"`
	From   string     `json:"from_version,omitempty"`
}

// Journal appends entries to StateDir/journal.jsonl with fsync.
type Journal struct {
	Dir  string
	path string
}

// OpenJournal makes the state folder if needed.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state folder %s: %w (set --state-dir to a writable folder)", dir, err)
	}
	return &Journal{Dir: dir, path: filepath.Join(dir, state.JournalName)}, nil
}

// Append writes e durably.
func (j *Journal) Append(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return f.Close()
}

// RunState is what the journal says about one run.
type RunState struct {
	Run       string
	Plan      *plan.Plan
	From      string
	Swaps     []Swap
	Done      map[string]bool // phases that completed
	LastPhase string
	LastState string
	Error     string
	Result    Result // set when the run ended
	Started   time.Time
	Updated   time.Time
}

// Ended reports whether the run reached an end (any result).
func (r *RunState) Ended() bool { return r.Result != "" }

// Last returns the state of the most recent run, nil if there is none.
func (j *Journal) Last() (*RunState, error) {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cur *RunState
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a torn last line from a crash mid-write
		}
		if e.Status == "begin" || cur == nil || cur.Run != e.Run {
			cur = &RunState{Run: e.Run, Done: map[string]bool{}, Started: e.Time}
		}
		cur.Updated = e.Time
		if e.Plan != nil {
			cur.Plan = e.Plan
		}
		if e.From != "" {
			cur.From = e.From
		}
		if len(e.Swaps) > 0 {
			cur.Swaps = e.Swaps
		}
		switch e.Status {
		case "done":
			cur.Done[e.Phase] = true
		case "end":
			cur.Result = e.Result
		}
		if e.Status != "end" {
			cur.LastPhase, cur.LastState, cur.Error = e.Phase, e.Status, e.Error
		}
	}
	return cur, sc.Err()
}
