package daemonjson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/liveswap/liveswap/plan"
)

// IDDockerdValidate is the finding of `dockerd --validate`, beside the
// rules' verdict.
const IDDockerdValidate = "daemon-json.dockerd-validate"

// Binary is a daemon binary that may judge its own configuration file with
// `BINARY --validate --config-file FILE [FLAGS]` (dockerd 23 and newer,
// liveswapd): exit 0 accepts the file, any other status refuses it with
// the reason as the last line of the output.
type Binary struct {
	Path string
	// VersionOutput is what `Path --version` printed (kept in the result).
	VersionOutput string
	// Version is the release found in it, "" when none was.
	Version string
	// Validated says whether a release has --validate: the target kind's
	// plan.ConfigRules.Validated. When it says no to an unknown version,
	// the binary's --help decides.
	Validated func(version string) bool
}

// BinaryResult is what a daemon binary said about a config file.
type BinaryResult struct {
	Binary  string `json:"binary"`
	Version string `json:"version,omitempty"`
	// Supported is false when the binary has no --validate flag (before
	// dockerd 23); nothing else was run then.
	Supported bool `json:"supported"`
	// OK is true when `BINARY --validate` accepted the file.
	OK     bool   `json:"ok"`
	Output string `json:"output,omitempty"`
	// LiveRestore is what an accepting binary said about live restore
	// (liveswapd's "live-restore: true|false" line); nil when it did not
	// say, as dockerd does not.
	LiveRestore *bool `json:"-"`
	// ExitCode of a refusal; 2 is a refusal of the flags, not of the file.
	ExitCode int `json:"-"`

	file string // the name the messages use
}

// Finding is the result as the daemon-json.dockerd-validate finding: the
// second opinion beside dockerd's rules.
func (b *BinaryResult) Finding() Finding {
	switch {
	case !b.Supported:
		return Finding{ID: IDDockerdValidate, Severity: OK,
			Message: fmt.Sprintf("%s (%s) has no --validate flag; only the built-in rules were applied", b.Binary, b.Version)}
	case b.OK:
		// --validate only loads and validates the configuration: it does
		// not create the bridge, the listeners or the storage driver, nor
		// look plugins up, where 26.1.5 refused files it had accepted.
		return Finding{ID: IDDockerdValidate, Severity: OK, Message: fmt.Sprintf("%s --validate accepts the file (weaker than a start: the default bridge, listeners, storage driver and plugins are only checked by daemon-json.valid's rules and daemon-json.host)", b.Binary)}
	}
	return Finding{ID: IDDockerdValidate, Severity: Fail,
		Message: fmt.Sprintf("%s --validate refuses the file: %s", b.Binary, b.Output),
		Remedy:  "fix what dockerd reports; it is the release that will read the file"}
}

// Findings is the result as the verdict on the file, for a daemon whose
// binary is the only judge of its file (liveswapd): IDValid (ok, or fail
// with the binary's message), IDConflict when a key is also set by an
// ExecStart flag, IDExecStart when the binary refused the flags themselves.
// Key, line and column are read from the message ("line 3 column 5",
// key "x"), as liveswapd words its configuration errors.
func (b *BinaryResult) Findings() []Finding {
	switch {
	case !b.Supported:
		return []Finding{{ID: IDValid, Severity: Warn,
			Message: fmt.Sprintf("%s (%s) has no --validate flag: nothing judged the file", b.Binary, b.Version),
			Remedy:  "start the daemon with the file on a test host, or upgrade it to a release with --validate"}}
	case b.OK:
		return []Finding{{ID: IDValid, Severity: OK, Message: b.Binary + " --validate accepts the file"}}
	}
	f := Finding{ID: IDValid, Severity: Fail, Message: b.Output,
		Remedy: fmt.Sprintf("fix %s (%s --validate --config-file %s checks it)", b.file, b.Binary, b.file)}
	switch {
	case b.ExitCode == 2:
		f.ID, f.Message, f.Remedy = IDExecStart, "ExecStart: "+b.Output, "fix the flags of the unit's ExecStart"
	case strings.Contains(b.Output, "both as a flag"):
		f.ID, f.Remedy = IDConflict, "remove the setting from the unit's ExecStart or from "+b.file
	}
	f.Key, f.Line, f.Col = position(b.Output, b.file)
	return []Finding{f}
}

// Rules names who judged the file, for reports: "liveswapd rules, by
// /usr/local/bin/liveswapd --validate".
func (b *BinaryResult) Rules(kind string) string {
	return fmt.Sprintf("%s rules, by %s --validate", kind, b.Binary)
}

var (
	linePos = regexp.MustCompile(`\bline (\d+)(?: column (\d+))?`)
	keyName = regexp.MustCompile(`\bkey ("(?:[^"\\]|\\.)*")`)
)

// position reads key, line and column from a refusal, after the file name
// (which could hold such words itself).
func position(msg, file string) (key string, line, col int) {
	if i := strings.Index(msg, file); i >= 0 && file != "" {
		msg = msg[i+len(file):]
	}
	if m := linePos.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		col, _ = strconv.Atoi(m[2])
	}
	if m := keyName.FindStringSubmatch(msg); m != nil {
		key, _ = strconv.Unquote(m[1])
	}
	return key, line, col
}

// BinaryTimeout bounds each run of the binary.
var BinaryTimeout = 20 * time.Second

// ValidateWithBinary asks the dockerd binary that will read file whether
// it accepts it (`dockerd --validate`, dockerd 23 and newer; support is
// detected from its --version, else its --help). extraArgs are ExecStart
// flags to pass along. An error means the binary could not be run; a
// refusal is reported in the result.
func ValidateWithBinary(ctx context.Context, binary, file string, extraArgs ...string) (*BinaryResult, error) {
	out, err := runBinary(ctx, binary, "--version")
	if err != nil {
		return nil, fmt.Errorf("run %s --version: %w", binary, err)
	}
	b := Binary{Path: binary, VersionOutput: strings.TrimSpace(out), Validated: plan.MustKind(plan.Docker).Config.Validated}
	if v, err := ParseVersion(b.VersionOutput); err == nil {
		b.Version = v.String()
	}
	return b.Validate(ctx, file, nil, extraArgs)
}

// Validate asks the binary whether it would start with the configuration
// file, in a throwaway process with a timeout. When data is not nil it is
// judged instead of file's content (a candidate not written yet, or {} for
// an absent default file): the binary reads a temporary copy and messages
// name file. flags are the unit's ExecStart flags (binary excluded): a
// conflict between them and the file is part of the verdict; their
// --config-file is replaced. An error means the binary could not be run; a
// refusal is reported in the result.
func (b Binary) Validate(ctx context.Context, file string, data []byte, flags []string) (*BinaryResult, error) {
	res := &BinaryResult{Binary: b.Path, Version: strings.TrimSpace(b.VersionOutput), file: file}
	supported := b.Validated != nil && b.Validated(b.Version)
	if !supported && b.Version == "" {
		// A build whose version does not parse may still have the flag.
		help, err := runBinary(ctx, b.Path, "--help")
		supported = err == nil && strings.Contains(help, "-validate")
	}
	res.Supported = supported
	if !supported {
		return res, nil
	}
	path := file
	if data != nil {
		tmp, err := writeTemp(data)
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp)
		path = tmp
	}
	args := append([]string{"--validate", "--config-file", path}, withoutConfigFile(flags)...)
	out, err := runBinary(ctx, b.Path, args...)
	out = strings.ReplaceAll(out, path, file)
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.OK = true
		res.Output = strings.TrimSpace(out)
		res.LiveRestore = liveRestoreLine(out)
	case errors.As(err, &ee) && noValidateFlag(out):
		// A release the kind's rule credits with --validate that lacks it.
		res.Supported = false
	case errors.As(err, &ee):
		res.Output = lastLine(out)
		res.ExitCode = ee.ExitCode()
	default:
		return nil, fmt.Errorf("run %s --validate: %w", b.Path, err)
	}
	return res, nil
}

// noValidateFlag recognises the flag parsers' answer to an unknown
// --validate (Go's flag package, cobra).
func noValidateFlag(out string) bool {
	return strings.Contains(out, "flag provided but not defined: -validate") || strings.Contains(out, "unknown flag: --validate")
}

// liveRestoreLine reads liveswapd's "live-restore: true|false" line.
func liveRestoreLine(out string) *bool {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "live-restore: "); ok {
			if on, err := strconv.ParseBool(v); err == nil {
				return &on
			}
		}
	}
	return nil
}

func writeTemp(data []byte) (string, error) {
	f, err := os.CreateTemp("", "liveswap-daemon-json-*.json")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing a copy of the file to judge: %w", err)
	}
	return f.Name(), nil
}

// withoutConfigFile drops --config-file from ExecStart flags: the file
// under test replaces it.
func withoutConfigFile(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--config-file" || a == "-config-file" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--config-file=") || strings.HasPrefix(a, "-config-file=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

func runBinary(ctx context.Context, binary string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, BinaryTimeout)
	defer cancel()
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return buf.String(), fmt.Errorf("%s timed out after %s: %w", binary, BinaryTimeout, ctx.Err())
	}
	return buf.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
