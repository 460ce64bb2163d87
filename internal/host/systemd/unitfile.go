package systemd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Setting is one KEY=VALUE line of a unit file.
type Setting struct{ Key, Value string }

// ReadSettings lists a unit file's KEY=VALUE lines in order, whatever their
// section, with line continuations joined and comments skipped; keys and
// values are trimmed.
func ReadSettings(path string) ([]Setting, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Setting
	var pending strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if pending.Len() > 0 {
			line = pending.String() + " " + strings.TrimSpace(line)
			pending.Reset()
		}
		if strings.HasSuffix(line, `\`) {
			pending.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
			continue
		}
		if k, v, ok := strings.Cut(t, "="); ok {
			out = append(out, Setting{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
		}
	}
	return out, sc.Err()
}

// ReadExecStart reads the effective ExecStart of a unit file: the last
// non-empty one ("ExecStart=" alone resets the list), with systemd's
// prefixes (-@:+!) removed and words split with systemd's quoting.
func ReadExecStart(path string) ([]string, error) {
	sets, err := ReadSettings(path)
	if err != nil {
		return nil, fmt.Errorf("read unit file: %w", err)
	}
	var cmdline string
	for _, s := range sets {
		if s.Key == "ExecStart" {
			cmdline = s.Value
		}
	}
	if cmdline == "" {
		return nil, fmt.Errorf("unit file %s: no ExecStart", path)
	}
	cmdline = strings.TrimLeft(cmdline, "-@:+!")
	words, err := splitCommand(cmdline)
	if err != nil {
		return nil, fmt.Errorf("unit file %s: ExecStart: %w", path, err)
	}
	return words, nil
}

// splitCommand splits a command line on spaces, honouring single and
// double quotes and backslash escapes.
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Command is the unit's ExecStart command line, binary first.
func (u *Unit) Command() ([]string, error) {
	if len(u.ExecStart) > 0 {
		return u.ExecStart[0].Argv, nil
	}
	if u.LoadState != "loaded" {
		return nil, fmt.Errorf("unit %s is %s with no ExecStart", u.Name, u.LoadState)
	}
	return nil, fmt.Errorf("unit %s has no ExecStart", u.Name)
}

// LoadedExecStart reads a loaded unit's ExecStart from the manager of
// scope: what systemd will run, drop-ins included, which the unit file
// alone does not tell.
func LoadedExecStart(ctx context.Context, scope Scope, unit string) ([]string, error) {
	m, err := Connect(ctx, scope)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	u, err := m.Unit(ctx, unit)
	if err != nil {
		return nil, err
	}
	return u.Command()
}
