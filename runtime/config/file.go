package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// fileKey is one top-level key found in daemon.json.
type fileKey struct {
	raw  json.RawMessage
	line int
}

// keyKinds maps every supported key to the JSON type it takes.
var keyKinds = map[string]string{
	"live-restore":     "boolean",
	"hosts":            "array of strings",
	"data-root":        "string",
	"exec-root":        "string",
	"pidfile":          "string",
	"log-level":        "string",
	"debug":            "boolean",
	"shutdown-timeout": "integer",
	"api-read-timeout": "integer",
	"api-idle-timeout": "integer",
	"log-driver":       "string",
	"log-opts":         "object of strings",
	"allow-host-image": "boolean",
	"runc-binary":      "string",
}

// parseFile reads the top-level object of daemon.json, keeping each key's
// line; unknown and duplicate keys are errors.
func parseFile(file string, data []byte) (map[string]fileKey, error) {
	keys := map[string]fileKey{}
	if len(bytes.TrimSpace(data)) == 0 {
		return keys, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		line, col := lineCol(data, off)
		msg := err.Error()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of JSON input"
		}
		return &ConfigError{File: file, Line: line, Col: col, Msg: "invalid JSON: " + msg}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		line, col := lineCol(data, 0)
		return nil, &ConfigError{File: file, Line: line, Col: col, Msg: "invalid JSON: the file must hold one JSON object"}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		key, _ := tok.(string)
		line, _ := lineCol(data, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntax(err)
		}
		if _, ok := keyKinds[key]; !ok {
			msg := "unknown key: it matches no configuration option liveswapd supports"
			if s := suggest(key); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, &ConfigError{File: file, Line: line, Key: key, Msg: msg}
		}
		if prev, dup := keys[key]; dup {
			return nil, &ConfigError{File: file, Line: line, Key: key, Msg: fmt.Sprintf("set twice (first at line %d)", prev.line)}
		}
		keys[key] = fileKey{raw: raw, line: line}
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, dec.InputOffset())
		return nil, &ConfigError{File: file, Line: line, Col: col, Msg: "invalid JSON: extra data after the top-level object"}
	}
	return keys, nil
}

// applyFile decodes each key with its type and validates its value.
func applyFile(file string, keys map[string]fileKey, cfg *Config) error {
	for _, k := range sortedKeys(keys) {
		fk := keys[k]
		bad := func(msg string) error { return &ConfigError{File: file, Line: fk.line, Key: k, Msg: msg} }
		wrongType := func() error {
			return bad(fmt.Sprintf("expected %s, got %s", keyKinds[k], jsonKind(fk.raw)))
		}
		var err error
		switch k {
		case "live-restore":
			err = strictBool(fk.raw, &cfg.LiveRestore)
		case "debug":
			err = strictBool(fk.raw, &cfg.Debug)
		case "hosts":
			var hs []string
			if err = strictDecode(fk.raw, &hs, '['); err == nil {
				for _, h := range hs {
					if _, herr := unixPath(h); herr != nil {
						return bad(fmt.Sprintf("host %q: %v", h, herr))
					}
				}
				if len(hs) > 0 {
					cfg.Hosts = hs
				}
			}
		case "allow-host-image":
			err = strictBool(fk.raw, &cfg.AllowHostImage)
		case "data-root", "exec-root", "pidfile", "runc-binary":
			var s string
			if err = strictDecode(fk.raw, &s, '"'); err == nil {
				if !strings.HasPrefix(s, "/") {
					return bad(fmt.Sprintf("%q must be an absolute path", s))
				}
				switch k {
				case "data-root":
					cfg.DataRoot = s
				case "exec-root":
					cfg.ExecRoot = s
				case "pidfile":
					cfg.Pidfile = s
				case "runc-binary":
					cfg.RuncBinary = s
				}
			}
		case "log-level":
			var s string
			if err = strictDecode(fk.raw, &s, '"'); err == nil {
				if _, lerr := ParseLevel(s); lerr != nil {
					return bad(lerr.Error())
				}
				cfg.LogLevel = s
			}
		case "shutdown-timeout":
			var n int
			if err = strictDecode(fk.raw, &n, 0); err == nil {
				if n < 0 {
					return bad(fmt.Sprintf("%d is negative; give a number of seconds >= 0", n))
				}
				cfg.ShutdownTimeout = n
			}
		case "api-read-timeout", "api-idle-timeout":
			var n int
			if err = strictDecode(fk.raw, &n, 0); err == nil {
				if n < 1 {
					return bad(fmt.Sprintf("%d: give a number of seconds >= 1", n))
				}
				if k == "api-read-timeout" {
					cfg.APIReadTimeout = n
				} else {
					cfg.APIIdleTimeout = n
				}
			}
		case "log-driver":
			if err = strictDecode(fk.raw, &cfg.LogDriver, '"'); err == nil {
				if _, lerr := ParseLogConfig(cfg.LogDriver, nil); lerr != nil {
					return bad(errMessage(lerr))
				}
			}
		case "log-opts":
			var opts map[string]string
			if err = strictDecode(fk.raw, &opts, '{'); err == nil {
				cfg.LogOpts = opts
			}
		}
		if err != nil {
			return wrongType()
		}
	}
	return nil
}

func strictBool(raw json.RawMessage, out *bool) error {
	return strictDecode(raw, out, 0)
}

// strictDecode refuses null (which encoding/json silently accepts) and,
// when first is not 0, any value not starting with that byte.
func strictDecode(raw json.RawMessage, out any, first byte) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" || (first != 0 && t[0] != first) {
		return errors.New("wrong type")
	}
	return json.Unmarshal(t, out)
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "string " + string(t)
	case '{':
		return "object"
	case '[':
		return "array " + string(t)
	case 't', 'f':
		return "boolean " + string(t)
	case 'n':
		return "null"
	default:
		return "number " + string(t)
	}
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// suggest returns the supported key closest to k, if it is close enough.
func suggest(k string) string {
	best, bestD := "", 4
	for cand := range keyKinds {
		if d := levenshtein(strings.ToLower(k), cand); d < bestD || (d == bestD && cand < best) {
			best, bestD = cand, d
		}
	}
	if bestD > 3 {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
