package daemonjson

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// kind is the JSON type of a parsed value.
type kind int

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	return [...]string{"null", "bool", "number", "string", "array", "object"}[k]
}

// node is a parsed JSON value that remembers where it starts, so findings
// can point at line:column. Objects keep every member in file order,
// duplicates included, because dockerd's decoder sees them all.
type node struct {
	kind    kind
	off     int
	str     string // decoded string, or the literal text of a number
	boolean bool
	members []member
	elems   []*node
}

type member struct {
	key    string
	keyOff int
	val    *node
}

// last returns the value of the last member named key (the one Go's
// decoder keeps), or nil.
func (n *node) last(key string) *node {
	if n == nil || n.kind != kObject {
		return nil
	}
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return n.members[i].val
		}
	}
	return nil
}

// syntaxError is a JSON syntax error at a byte offset; messages follow the
// wording of Go's encoding/json, which is what dockerd prints.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

type parser struct {
	data  []byte
	pos   int
	depth int
}

// parseValue parses one JSON value starting after leading whitespace and
// returns it with the offset just past it.
func parseValue(data []byte) (*node, int, error) {
	p := &parser{data: data}
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, p.pos, &syntaxError{p.pos, "unexpected end of JSON input"}
	}
	n, err := p.value()
	if err != nil {
		return nil, p.pos, err
	}
	return n, p.pos, nil
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// quoteRune quotes the character at off the way encoding/json does (it
// reports the byte, so a UTF-8 BOM shows as 'ï').
func (p *parser) errAt(off int, context string) error {
	if off >= len(p.data) {
		return &syntaxError{off, "unexpected end of JSON input"}
	}
	return &syntaxError{off, fmt.Sprintf("invalid character %s %s", quoteChar(p.data[off]), context)}
}

func (p *parser) value() (*node, error) {
	if p.pos >= len(p.data) {
		return nil, &syntaxError{p.pos, "unexpected end of JSON input"}
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		off := p.pos
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: kString, off: off, str: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", &node{kind: kBool, off: p.pos, boolean: true})
	case c == 'f':
		return p.literal("false", &node{kind: kBool, off: p.pos})
	case c == 'n':
		return p.literal("null", &node{kind: kNull, off: p.pos})
	default:
		return nil, p.errAt(p.pos, "looking for beginning of value")
	}
}

func (p *parser) literal(word string, n *node) (*node, error) {
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.data) {
			return nil, &syntaxError{p.pos, "unexpected end of JSON input"}
		}
		if p.data[p.pos] != word[i] {
			return nil, p.errAt(p.pos, fmt.Sprintf("in literal %s (expecting %s)", word, quoteChar(word[i])))
		}
		p.pos++
	}
	return n, nil
}

func (p *parser) number() (*node, error) {
	start := p.pos
	d := p.data
	digits := func() int {
		n := 0
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if d[p.pos] == '-' {
		p.pos++
	}
	if p.pos >= len(d) {
		return nil, &syntaxError{p.pos, "unexpected end of JSON input"}
	}
	switch {
	case d[p.pos] == '0':
		p.pos++
	case d[p.pos] >= '1' && d[p.pos] <= '9':
		digits()
	default:
		return nil, p.errAt(p.pos, "in numeric literal")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errAt(p.pos, "after decimal point in numeric literal")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errAt(p.pos, "in exponent of numeric literal")
		}
	}
	return &node{kind: kNumber, off: start, str: string(d[start:p.pos])}, nil
}

// str parses a string literal. Invalid UTF-8 is kept (as U+FFFD), as
// encoding/json does; control characters and bad escapes are errors.
func (p *parser) str() (string, error) {
	d := p.data
	p.pos++ // opening quote
	var out []byte
	for {
		if p.pos >= len(d) {
			return "", &syntaxError{p.pos, "unexpected end of JSON input"}
		}
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(out), nil
		case c < 0x20:
			return "", p.errAt(p.pos, "in string literal")
		case c == '\\':
			p.pos++
			if p.pos >= len(d) {
				return "", &syntaxError{p.pos, "unexpected end of JSON input"}
			}
			switch e := d[p.pos]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := p.hex4(p.pos + 1)
				if err != nil {
					return "", err
				}
				p.pos += 4
				if r >= 0xD800 && r < 0xDC00 && p.pos+6 < len(d) && d[p.pos+1] == '\\' && d[p.pos+2] == 'u' {
					if r2, err := p.hex4(p.pos + 3); err == nil && r2 >= 0xDC00 && r2 < 0xE000 {
						r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
						p.pos += 6
					}
				}
				if r >= 0xD800 && r < 0xE000 {
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", p.errAt(p.pos, "in string escape code")
			}
			p.pos++
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(d[p.pos:])
			out = utf8.AppendRune(out, r)
			p.pos += size
		}
	}
}

func (p *parser) hex4(at int) (rune, error) {
	var r rune
	for i := 0; i < 4; i++ {
		if at+i >= len(p.data) {
			return 0, &syntaxError{at + i, "unexpected end of JSON input"}
		}
		c := p.data[at+i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, p.errAt(at+i, "in \\u hexadecimal character escape")
		}
		r = r*16 + rune(v)
	}
	return r, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return &syntaxError{p.pos, "exceeded max depth"}
	}
	return nil
}

func (p *parser) object() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{kind: kObject, off: p.pos}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errAt(p.pos, "looking for beginning of object key string")
		}
		keyOff := p.pos
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errAt(p.pos, "after object key")
		}
		p.pos++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, keyOff: keyOff, val: v})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, &syntaxError{p.pos, "unexpected end of JSON input"}
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.errAt(p.pos, "after object key:value pair")
		}
	}
}

func (p *parser) array() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{kind: kArray, off: p.pos}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, &syntaxError{p.pos, "unexpected end of JSON input"}
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.errAt(p.pos, "after array element")
		}
	}
}
