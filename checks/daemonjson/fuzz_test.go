package daemonjson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzValidate: the validator never panics, and a file it says dockerd
// starts with decodes as JSON the way that release reads it.
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b, false)
		}
	}
	f.Add([]byte(`{"live-restore": true, "a": {"b": [1, 2.5e3, "\ud83d\ude00"]}}`), true)
	f.Fuzz(func(t *testing.T, data []byte, modern bool) {
		version := "20.10"
		if modern {
			version = "28.0"
		}
		r := Validate(data, Options{File: "f.json", DockerVersion: version, ExecStart: []string{"dockerd", "-D", "--live-restore"}})
		for _, fd := range r.Findings {
			if fd.ID == "" || fd.Message == "" {
				t.Fatalf("finding without id or message: %+v", fd)
			}
		}
		if !r.Starts() {
			return
		}
		text := bytes.TrimSpace(data)
		if modern {
			text = bytes.TrimPrefix(text, bomUTF8)
			if bytes.HasPrefix(text, bomUTF16LE) || bytes.HasPrefix(text, bomUTF16BE) {
				return // decoded from UTF-16 first
			}
			if len(bytes.TrimSpace(text)) == 0 {
				return // 23 and newer start with an empty file
			}
			if !json.Valid(text) || !utf8.Valid(text) {
				t.Fatalf("validator accepts %q but it is not valid JSON", data)
			}
		}
		// dockerd 20.10 decodes the first value with json.Decoder.
		var v map[string]any
		if err := json.NewDecoder(bytes.NewReader(text)).Decode(&v); err != nil {
			t.Fatalf("validator accepts %q but encoding/json fails: %v", data, err)
		}
	})
}
