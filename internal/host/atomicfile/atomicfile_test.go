package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.json")
	tests := []struct {
		name string
		data string
		perm os.FileMode
	}{
		{"creates", `{"a":1}`, 0o600},
		{"replaces and changes mode", `{"b":2}`, 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := WriteFile(path, []byte(tt.data), tt.perm); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != tt.data {
				t.Fatalf("content %q, %v; want %q", b, err, tt.data)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != tt.perm {
				t.Errorf("mode %v, want %v", st.Mode().Perm(), tt.perm)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("folder holds %d entries, want the file alone (no temporary left)", len(ents))
			}
		})
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	tests := []struct {
		v    any
		want string
	}{
		{map[string]int{"a": 1}, "{\"a\":1}\n"},
		{[]string{"x"}, "[\"x\"]\n"},
	}
	for _, tt := range tests {
		if err := WriteJSON(path, tt.v, 0o600); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != tt.want {
			t.Errorf("WriteJSON(%v) wrote %q, want %q", tt.v, b, tt.want)
		}
	}
	if err := WriteJSON(path, make(chan int), 0o600); err == nil {
		t.Error("a value JSON cannot encode was written")
	}
}

func TestSyncDir(t *testing.T) {
	tests := []struct {
		dir     string
		wantErr bool
	}{
		{t.TempDir(), false},
		{"", false}, // the current folder, as filepath.Split gives it
		{filepath.Join(t.TempDir(), "missing"), true},
	}
	for _, tt := range tests {
		if err := SyncDir(tt.dir); (err != nil) != tt.wantErr {
			t.Errorf("SyncDir(%q) = %v, want error %v", tt.dir, err, tt.wantErr)
		}
	}
}
