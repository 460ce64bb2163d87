package systemd

import (
	"bufio"
	"os"
	"strings"
	"unicode"
)

// EnvFile is one EnvironmentFile= of a unit; Optional files ("-" prefix)
// may be missing.
type EnvFile struct {
	Path     string
	Optional bool
}

// Environ is the environment systemd gives a unit's commands: its
// EnvironmentFile= files in order, then Environment=, later values
// winning as in systemd. A file that cannot be read is skipped.
func Environ(env []string, files []EnvFile) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			continue
		}
		for k, v := range parseEnvFile(string(b)) {
			out[k] = v
		}
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// parseEnvFile reads KEY=VALUE lines as systemd does: # and ; start
// comments, a trailing backslash continues a line, quotes around a value
// are removed.
func parseEnvFile(s string) map[string]string {
	out := map[string]string{}
	var pending string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := pending + sc.Text()
		pending = ""
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out
}

// Expand turns a command line as the unit file writes it into the argv
// systemd runs: a word that is exactly $NAME becomes the variable's value
// split at whitespace (zero words when it is unset or empty); ${NAME}
// anywhere in a word is replaced by the value as is; $$ is a dollar sign.
func Expand(argv []string, env map[string]string) []string {
	out := make([]string, 0, len(argv))
	for i, w := range argv {
		if i > 0 && len(w) > 1 && w[0] == '$' && isName(w[1:]) {
			out = append(out, strings.FieldsFunc(env[w[1:]], unicode.IsSpace)...)
			continue
		}
		out = append(out, expandWord(w, env))
	}
	return out
}

func expandWord(w string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		switch {
		case strings.HasPrefix(w[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(w[i:], "${"):
			if end := strings.IndexByte(w[i:], '}'); end > 2 && isName(w[i+2:i+end]) {
				b.WriteString(env[w[i+2:i+end]])
				i += end
				continue
			}
			b.WriteByte(w[i])
		default:
			b.WriteByte(w[i])
		}
	}
	return b.String()
}

func isName(s string) bool {
	for i, c := range s {
		if !(c == '_' || unicode.IsLetter(c) || (i > 0 && unicode.IsDigit(c))) {
			return false
		}
	}
	return s != ""
}
