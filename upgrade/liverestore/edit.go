package liverestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Key is the daemon.json key this package turns on.
const Key = "live-restore"

// fresh is the file written when there was none (or only whitespace).
const fresh = "{\n  \"live-restore\": true\n}\n"

var bom = []byte("\xef\xbb\xbf")

// member is one top-level member of the object: byte offsets into the
// text, so an edit replaces a span and leaves every other byte alone.
type member struct {
	key              string
	keyStart, keyEnd int // the quoted key
	valStart, valEnd int // the value
	valText          string
}

// EditError is a daemon.json that cannot be edited as text: not JSON, or
// not an object at the top.
type EditError struct {
	Line, Col int
	Msg       string
}

func (e *EditError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
	}
	return e.Msg
}

// SetTrue returns data with "live-restore": true. Every other byte stays as
// it was: the keys, their order, indentation, spacing and a UTF-8 BOM. An
// existing top-level "live-restore" (each one, when the key is duplicated)
// gets its value replaced; otherwise the key is appended after the last
// member with the separator and colon spacing the file already uses. Keys
// of the same name inside nested objects are left alone.
//
// The file is never decoded into a map and re-encoded: that would sort the
// keys, drop the formatting and change number spellings.
func SetTrue(data []byte) (out []byte, changed bool, err error) {
	prefix := 0
	if bytes.HasPrefix(data, bom) {
		prefix = len(bom)
	}
	text := data[prefix:]
	if len(bytes.TrimSpace(text)) == 0 {
		return append(append([]byte(nil), data[:prefix]...), fresh...), true, nil
	}
	open, closing, members, err := scan(text)
	if err != nil {
		return nil, false, err
	}
	var edits []edit
	found := false
	for _, m := range members {
		if m.key != Key {
			continue
		}
		found = true
		if m.valText != "true" {
			edits = append(edits, edit{m.valStart, m.valEnd, "true"})
		}
	}
	if !found {
		edits = append(edits, insertion(text, open, closing, members))
	}
	if len(edits) == 0 {
		return data, false, nil
	}
	var b bytes.Buffer
	b.Write(data[:prefix])
	at := 0
	for _, e := range edits {
		b.Write(text[at:e.start])
		b.WriteString(e.with)
		at = e.end
	}
	b.Write(text[at:])
	return b.Bytes(), true, nil
}

// edit replaces text[start:end] with with; edits are in text order.
type edit struct {
	start, end int
	with       string
}

// insertion appends the key as the last member, styled like the others.
func insertion(text []byte, open, closing int, ms []member) edit {
	if len(ms) == 0 {
		// {} or { }: lay the one member out on its own line, as
		// dockerd's documentation shows it.
		return edit{open, closing + 1, "{\n  \"live-restore\": true\n}"}
	}
	last := ms[len(ms)-1]
	colon := string(text[last.keyEnd:last.valStart])
	var sep string
	switch {
	case len(ms) > 1:
		// What separates the last two members: ",\n  " or ", ".
		sep = string(text[ms[len(ms)-2].valEnd:last.keyStart])
	case open+1 < last.keyStart:
		// The lone member's line break and indent.
		sep = "," + string(text[open+1:last.keyStart])
	case strings.Contains(colon, " "):
		sep = ", " // {"a": 1}: spaced, on one line
	default:
		sep = "," // {"a":1}: compact
	}
	return edit{last.valEnd, last.valEnd, sep + `"` + Key + `"` + colon + "true"}
}

// scan finds the top-level object's braces and members.
func scan(text []byte) (open, closing int, ms []member, err error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	bad := func(err error) (int, int, []member, error) {
		off := int(dec.InputOffset())
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = int(se.Offset)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			off = len(text)
			err = errors.New("unexpected end of JSON input")
		}
		line, col := position(text, off)
		return 0, 0, nil, &EditError{Line: line, Col: col, Msg: "invalid JSON: " + err.Error()}
	}
	tok, err := dec.Token()
	if err != nil {
		return bad(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		line, col := position(text, skipSpace(text, 0))
		return 0, 0, nil, &EditError{Line: line, Col: col, Msg: fmt.Sprintf("the top level is %s, not an object: dockerd needs {\"key\": value, ...}", describe(tok))}
	}
	open = int(dec.InputOffset()) - 1
	for dec.More() {
		prev := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := tok.(string)
		m := member{key: key, keyEnd: int(dec.InputOffset())}
		m.keyStart = bytes.IndexByte(text[prev:m.keyEnd], '"') + prev
		if err := skipValue(dec); err != nil {
			return bad(err)
		}
		m.valEnd = int(dec.InputOffset())
		m.valStart = skipSpace(text, m.keyEnd)
		if m.valStart < len(text) && text[m.valStart] == ':' {
			m.valStart = skipSpace(text, m.valStart+1)
		}
		m.valText = string(text[m.valStart:m.valEnd])
		ms = append(ms, m)
	}
	if _, err := dec.Token(); err != nil {
		return bad(err)
	}
	closing = int(dec.InputOffset()) - 1
	return open, closing, ms, nil
}

// skipValue consumes one value, however deeply nested.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

func skipSpace(text []byte, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
		i++
	}
	return i
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// position turns a byte offset into a 1-based line and column.
func position(text []byte, off int) (int, int) {
	if off > len(text) {
		off = len(text)
	}
	line := 1 + bytes.Count(text[:off], []byte("\n"))
	col := off - (bytes.LastIndexByte(text[:off], '\n') + 1) + 1
	return line, col
}
