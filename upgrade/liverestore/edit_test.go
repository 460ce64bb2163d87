package liverestore

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSetTrue(t *testing.T) {
	tests := []struct {
		name, in, want string
		changed        bool
	}{
		{"false becomes true, nothing else moves",
			"{\n  \"data-root\": \"/x\",\n  \"live-restore\": false,\n  \"bridge\": \"none\"\n}\n",
			"{\n  \"data-root\": \"/x\",\n  \"live-restore\": true,\n  \"bridge\": \"none\"\n}\n", true},
		{"already true", "{\"live-restore\": true}", "{\"live-restore\": true}", false},
		{"appended after the last member, same indent",
			"{\n    \"storage-driver\": \"vfs\",\n    \"log-opts\": {\"max-size\": \"10m\"}\n}\n",
			"{\n    \"storage-driver\": \"vfs\",\n    \"log-opts\": {\"max-size\": \"10m\"},\n    \"live-restore\": true\n}\n", true},
		{"one line, spacing kept", `{"debug": true, "bridge": "none"}`, `{"debug": true, "bridge": "none", "live-restore": true}`, true},
		{"compact", `{"debug":true}`, `{"debug":true,"live-restore":true}`, true},
		{"single member on its own line",
			"{\n\t\"debug\": true\n}", "{\n\t\"debug\": true,\n\t\"live-restore\": true\n}", true},
		{"empty object", "{}\n", "{\n  \"live-restore\": true\n}\n", true},
		{"empty object with space", "{ }", "{\n  \"live-restore\": true\n}", true},
		{"empty file", "", fresh, true},
		{"whitespace only", "\n\n", fresh, true},
		{"nested key untouched, top-level added",
			`{"x": {"live-restore": false}, "n": 1.50}`, `{"x": {"live-restore": false}, "n": 1.50, "live-restore": true}`, true},
		{"numbers and escapes kept verbatim",
			`{"mtu": 1.5e3, "labels": ["a\u0041"], "live-restore": 0}`, `{"mtu": 1.5e3, "labels": ["a\u0041"], "live-restore": true}`, true},
		{"duplicate keys: each set", `{"live-restore": false, "a": 1, "live-restore": false}`, `{"live-restore": true, "a": 1, "live-restore": true}`, true},
		{"string value replaced", `{"live-restore": "true"}`, `{"live-restore": true}`, true},
		{"BOM kept", "\xef\xbb\xbf{\"a\": 1}", "\xef\xbb\xbf{\"a\": 1, \"live-restore\": true}", true},
		{"CRLF kept", "{\r\n  \"a\": 1\r\n}\r\n", "{\r\n  \"a\": 1,\r\n  \"live-restore\": true\r\n}\r\n", true},
		{"array value before", `{"hosts": ["unix:///a.sock", "unix:///b.sock"]}`, `{"hosts": ["unix:///a.sock", "unix:///b.sock"], "live-restore": true}`, true},
		{"trailing text left alone", "{\"a\": 1}\n// x\n", "{\"a\": 1, \"live-restore\": true}\n// x\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := SetTrue([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want || changed != tt.changed {
				t.Fatalf("SetTrue(%q) = %q, %v; want %q, %v", tt.in, out, changed, tt.want, tt.changed)
			}
			body := strings.TrimPrefix(string(out), "\xef\xbb\xbf")
			if i := strings.LastIndex(body, "}"); i >= 0 {
				body = body[:i+1]
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(body), &m); err != nil || m[Key] != true {
				t.Errorf("result does not decode with live-restore true: %v %v", err, m)
			}
		})
	}
}

func TestSetTrueRefuses(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"syntax", "{\n  \"a\": 1,\n  \"b\" 2\n}", "line 3, column"},
		{"unterminated", "{\n  \"a\": 1,", "unexpected end"},
		{"array", "[1]", "not an object"},
		{"null", "null", "null, not an object"},
		{"string", "  \"x\"", "line 1, column 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SetTrue([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}
