package liverestore

import "testing"

func TestDiff(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"same", "{}\n", "{}\n", ""},
		{"value replaced",
			"{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3,\n  \"live-restore\": false,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7\n}\n",
			"{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3,\n  \"live-restore\": true,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7\n}\n",
			"--- f\n+++ f\n@@ -2,7 +2,7 @@\n   \"a\": 1,\n   \"b\": 2,\n   \"c\": 3,\n-  \"live-restore\": false,\n+  \"live-restore\": true,\n   \"d\": 4,\n   \"e\": 5,\n   \"f\": 6,\n"},
		{"appended",
			"{\n  \"a\": 1\n}\n", "{\n  \"a\": 1,\n  \"live-restore\": true\n}\n",
			"--- f\n+++ f\n@@ -1,3 +1,4 @@\n {\n-  \"a\": 1\n+  \"a\": 1,\n+  \"live-restore\": true\n }\n"},
		{"new file", "", fresh,
			"--- /dev/null\n+++ f\n@@ -0,0 +1,3 @@\n+{\n+  \"live-restore\": true\n+}\n"},
		{"no newline at end", `{"a": 1}`, `{"a": 1, "live-restore": true}`,
			"--- f\n+++ f\n@@ -1 +1 @@\n-{\"a\": 1}\n\\ No newline at end of file\n+{\"a\": 1, \"live-restore\": true}\n\\ No newline at end of file\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Diff("f", []byte(tt.old), []byte(tt.new)); got != tt.want {
				t.Errorf("Diff =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
