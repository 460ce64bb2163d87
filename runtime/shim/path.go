package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LookPath resolves name the way execvp would, inside root.
func LookPath(root, name string, env []string) (string, error) {
	if root == "" {
		root = "/"
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	denied := false
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode()&0o111 == 0 {
			denied = true
			continue
		}
		return p, nil
	}
	if denied {
		return "", fmt.Errorf("exec: %q: %w", name, os.ErrPermission)
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}
