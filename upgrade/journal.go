package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
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
	// NewSHA256 is the staged copy's sha256: what a resumed run checks
	// the file against before installing or running it.
	NewSHA256 string `json:"new_sha256,omitempty"`
}

// Entry is one line of the journal. Every line is short (at most
// state.MaxEntry bytes): the plan is kept beside the journal, named and
// digested here, never inlined.
type Entry struct {
	Time   time.Time `json:"time"`
	Run    string    `json:"run"`
	Phase  string    `json:"phase"`
	Status string    `json:"status"` // begin, started, done, failed, end
	Error  string    `json:"error,omitempty"`
	Result Result    `json:"result,omitempty"` // on "end"
	// PlanFile (in the state folder) and PlanSHA256 are the run's plan, on
	// "begin"; Unit is its target's unit, for `liveswap status`.
	PlanFile   string `json:"plan_file,omitempty"`
	PlanSHA256 string `json:"plan_sha256,omitempty"`
	Unit       string `json:"unit,omitempty"`
	// Plan is read from journals written before plans were kept beside
	// them; it is never written.
	Plan  *plan.Plan `json:"plan,omitempty"`
	Swaps []Swap     `json:"swaps,omitempty"`
	From  string     `json:"from_version,omitempty"`
	// PolicyRCD is set while a package plan's policy-rc.d is in place
	// ("installed; host's kept at PATH" or "...host had none") and when it
	// is restored ("restored"): a later run restores it too
	// (upgrade/packages.go).
	PolicyRCD string `json:"policy_rc_d,omitempty"`
}

// maxError bounds the error journaled with an entry; the report keeps it
// whole.
const maxError = 16 << 10

// maxPlanJSON bounds a run's plan file: plans are at most plan.MaxSize of
// YAML, and their JSON is about as long.
const maxPlanJSON = 4 * plan.MaxSize

// Journal appends entries to StateDir/journal.jsonl with fsync.
type Journal struct {
	Dir    string
	folder *state.Folder
}

// OpenJournal checks the state folder (see state.Open) and makes it if
// needed; Close releases it.
func OpenJournal(dir string) (*Journal, error) {
	f, err := state.Open(dir, true)
	if err != nil {
		return nil, err
	}
	return &Journal{Dir: f.Path, folder: f}, nil
}

// readJournal is OpenJournal for readers: a missing state folder is no
// journal (nil), not an error, and nothing is made.
func readJournal(dir string) (*Journal, error) {
	f, err := state.Open(dir, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Journal{Dir: f.Path, folder: f}, nil
}

// Close releases the state folder; a nil Journal is a no-op.
func (j *Journal) Close() {
	if j != nil {
		j.folder.Close()
	}
}

func (j *Journal) path() string { return j.folder.Name(state.JournalName) }

// Append writes e durably.
func (j *Journal) Append(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if len(e.Error) > maxError {
		e.Error = e.Error[:maxError] + "... (cut: see the run's report)"
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if len(b) > state.MaxEntry {
		return fmt.Errorf("journal %s: an entry of %d bytes is over the %d liveswap writes", j.path(), len(b), state.MaxEntry)
	}
	f, err := j.folder.OpenFile(state.JournalName, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", j.path(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", j.path(), err)
	}
	return f.Close()
}

// planFile is where run keeps its plan in the state folder.
func planFile(run string) string { return "run-" + run + "-plan.json" }

// Begin records the start of run with plan p: the plan goes to its own
// file in the state folder, the journal gets its name and digest.
func (j *Journal) Begin(run string, p *plan.Plan) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if len(b) > maxPlanJSON {
		return fmt.Errorf("the plan is %d bytes as JSON, over the %d liveswap keeps: list fewer workloads or binaries", len(b), maxPlanJSON)
	}
	name := planFile(run)
	if err := j.folder.WriteFile(name, append(b, '\n'), 0o600); err != nil {
		return err
	}
	sum := sha256.Sum256(append(b, '\n'))
	return j.Append(Entry{Run: run, Phase: "lock", Status: "begin", PlanFile: name, PlanSHA256: hex.EncodeToString(sum[:]), Unit: p.Target.Unit})
}

// RunState is what the journal says about one run.
type RunState struct {
	Run  string
	Plan *plan.Plan
	// PlanErr says why the run's plan could not be read (Plan is nil).
	PlanErr   error
	Unit      string
	From      string
	Swaps     []Swap
	Done      map[string]bool // phases that completed
	LastPhase string
	LastState string
	Error     string
	Result    Result // set when the run ended
	Started   time.Time
	Updated   time.Time

	planFile, planSHA string
}

// Ended reports whether the run reached an end (any result).
func (r *RunState) Ended() bool { return r.Result != "" }

// Last returns the state of the most recent run, nil if there is none. A
// line over state.MaxLine is an error naming the journal and the line.
func (j *Journal) Last() (*RunState, error) {
	if j == nil {
		return nil, nil
	}
	f, err := j.folder.OpenFile(state.JournalName, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cur *RunState
	err = state.Lines(f, j.path(), state.MaxLine, func(_ int, line []byte) error {
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil // a torn last line from a crash mid-write
		}
		if e.Status == "begin" || cur == nil || cur.Run != e.Run {
			cur = &RunState{Run: e.Run, Done: map[string]bool{}, Started: e.Time}
		}
		cur.Updated = e.Time
		if e.Plan != nil {
			cur.Plan, cur.Unit = e.Plan, e.Plan.Target.Unit
		}
		if e.PlanFile != "" {
			cur.planFile, cur.planSHA = e.PlanFile, e.PlanSHA256
		}
		if e.Unit != "" {
			cur.Unit = e.Unit
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
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Plan == nil && cur.planFile != "" {
		cur.Plan, cur.PlanErr = j.readPlan(cur.planFile, cur.planSHA)
	}
	return cur, nil
}

// readPlan reads a run's plan file and checks it against its digest.
func (j *Journal) readPlan(name, sha string) (*plan.Plan, error) {
	if strings.Contains(name, "/") {
		return nil, fmt.Errorf("journal %s names plan file %q, not a file of the state folder", j.path(), name)
	}
	b, err := j.folder.ReadFile(name, maxPlanJSON)
	if err != nil {
		return nil, fmt.Errorf("the run's plan: %w", err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != sha {
		return nil, fmt.Errorf("the run's plan %s has sha256 %s, the journal recorded %s: it changed since the run began (restore it, or finish by hand: `liveswap status` lists the files)", j.folder.Name(name), got, sha)
	}
	var p plan.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("the run's plan %s: %w", j.folder.Name(name), err)
	}
	return &p, nil
}
