package daemonjson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// IDDockerdValidate is the finding of `dockerd --validate`.
const IDDockerdValidate = "daemon-json.dockerd-validate"

// BinaryResult is what a dockerd binary said about a config file.
type BinaryResult struct {
	Binary  string `json:"binary"`
	Version string `json:"version,omitempty"`
	// Supported is false when the binary has no --validate flag (before
	// dockerd 23); nothing else was run then.
	Supported bool `json:"supported"`
	// OK is true when `dockerd --validate` accepted the file.
	OK     bool   `json:"ok"`
	Output string `json:"output,omitempty"`
}

// Finding turns the result into a report finding.
func (b *BinaryResult) Finding() Finding {
	switch {
	case !b.Supported:
		return Finding{ID: IDDockerdValidate, Severity: OK,
			Message: fmt.Sprintf("%s (%s) has no --validate flag; only the built-in rules were applied", b.Binary, b.Version)}
	case b.OK:
		return Finding{ID: IDDockerdValidate, Severity: OK, Message: fmt.Sprintf("%s --validate accepts the file", b.Binary)}
	}
	return Finding{ID: IDDockerdValidate, Severity: Fail,
		Message: fmt.Sprintf("%s --validate refuses the file: %s", b.Binary, b.Output),
		Remedy:  "fix what dockerd reports; it is the release that will read the file"}
}

// BinaryTimeout bounds each run of the binary.
var BinaryTimeout = 20 * time.Second

// ValidateWithBinary asks the dockerd binary that will read file whether it
// accepts it (`dockerd --validate --config-file FILE`, dockerd 23 and
// newer), in a throwaway process with a timeout. Support is detected from
// the binary's version and its help text. extraArgs are ExecStart flags to
// pass along (flag/file conflicts are part of the check). An error means
// the binary could not be run; a refusal is reported in the result.
func ValidateWithBinary(ctx context.Context, binary, file string, extraArgs ...string) (*BinaryResult, error) {
	out, err := runBinary(ctx, binary, "--version")
	if err != nil {
		return nil, fmt.Errorf("run %s --version: %w", binary, err)
	}
	return ValidateWithKnownVersion(ctx, binary, out, file, extraArgs...)
}

// ValidateWithKnownVersion is ValidateWithBinary for a binary whose
// `--version` output the caller already has (pre-flight asked it once):
// each run of a 75 MB dockerd costs about a tenth of a second.
func ValidateWithKnownVersion(ctx context.Context, binary, versionOutput, file string, extraArgs ...string) (*BinaryResult, error) {
	res := &BinaryResult{Binary: binary, Version: strings.TrimSpace(versionOutput)}
	v, perr := ParseVersion(res.Version)
	supported := perr == nil && v.atLeast(23, 0)
	if perr != nil {
		// A build whose version does not parse may still have the flag.
		help, err := runBinary(ctx, binary, "--help")
		supported = err == nil && strings.Contains(help, "--validate")
	}
	res.Supported = supported
	if !supported {
		return res, nil
	}
	args := append([]string{"--validate", "--config-file", file}, withoutConfigFile(extraArgs)...)
	out, err := runBinary(ctx, binary, args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.OK = true
		res.Output = strings.TrimSpace(out)
	case errors.As(err, &ee):
		res.Output = lastLine(out)
	default:
		return nil, fmt.Errorf("run %s --validate: %w", binary, err)
	}
	return res, nil
}

// withoutConfigFile drops --config-file from ExecStart flags: the file
// under test replaces it.
func withoutConfigFile(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--config-file" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--config-file=") {
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
