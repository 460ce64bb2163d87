package daemonjson

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// decodeText returns the text dockerd's JSON decoder sees. dockerd 20.10
// hands the raw bytes to encoding/json (a BOM is a syntax error, invalid
// UTF-8 passes); 23 and newer honour a UTF-8 or UTF-16 BOM and refuse
// invalid UTF-8.
func (c *checker) decodeText(data []byte) ([]byte, bool) {
	if !c.modern() {
		for _, b := range [][]byte{bomUTF8, bomUTF16LE, bomUTF16BE} {
			if bytes.HasPrefix(data, b) {
				c.data = data
				c.add(Finding{ID: IDEncoding, Severity: Fail, Line: 1, Col: 1,
					Message: fmt.Sprintf("the file starts with a byte order mark (%s): dockerd 20.10 fails with \"invalid character %s looking for beginning of value\" (23 and newer accept it)", bomName(b), quoteChar(b[0])),
					Remedy:  "save the file as UTF-8 without BOM (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' FILE, or iconv -f UTF-16 -t UTF-8 for UTF-16)"})
				return nil, false
			}
		}
		if !utf8.Valid(data) {
			off := invalidUTF8(data)
			c.data = data
			c.add(c.at(Finding{ID: IDEncoding, Severity: Warn,
				Message: fmt.Sprintf("invalid UTF-8 at byte offset %d: dockerd 20.10 replaces it with U+FFFD, dockerd 23 and newer refuse the file", off),
				Remedy:  "re-encode the file as UTF-8 (iconv -f LATIN1 -t UTF-8)"}, off))
		}
		return data, true
	}
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		data = data[len(bomUTF8):]
	case bytes.HasPrefix(data, bomUTF16LE), bytes.HasPrefix(data, bomUTF16BE):
		data = fromUTF16(data[2:], bytes.HasPrefix(data, bomUTF16BE))
	}
	if !utf8.Valid(data) {
		off := invalidUTF8(data)
		c.data = data
		c.add(c.at(Finding{ID: IDEncoding, Severity: Fail,
			Message: fmt.Sprintf("failed to decode configuration JSON at offset %d: invalid UTF-8", off),
			Remedy:  "re-encode the file as UTF-8 (iconv -f LATIN1 -t UTF-8)"}, off))
		return nil, false
	}
	return data, true
}

func bomName(b []byte) string {
	switch {
	case bytes.Equal(b, bomUTF8):
		return "UTF-8"
	case bytes.Equal(b, bomUTF16LE):
		return "UTF-16 LE"
	}
	return "UTF-16 BE"
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

func fromUTF16(b []byte, bigEndian bool) []byte {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		if bigEndian {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		} else {
			u = append(u, uint16(b[i+1])<<8|uint16(b[i]))
		}
	}
	out := []byte(string(utf16.Decode(u)))
	if len(b)%2 == 1 {
		// An odd trailing byte decodes to the replacement character.
		out = utf8.AppendRune(out, utf8.RuneError)
	}
	return out
}
