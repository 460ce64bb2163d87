// Package atomicfile replaces small files so that a reader, or a daemon
// restarted after a crash, sees the old content or the new one, never a
// torn file: write a hidden temporary file beside the target, fsync it,
// rename it over the target, fsync the folder.
package atomicfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Owner keeps a file's owner; -1 leaves that id as the writer's.
type Owner struct{ UID, GID int }

// Keep is the zero change of owner: the file belongs to the writer.
var Keep = Owner{UID: -1, GID: -1}

// WriteFile replaces path with data, mode perm, owned by the writer.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileOwned(path, data, perm, Keep)
}

// WriteFileOwned is WriteFile that also gives the file owner o.
func WriteFileOwned(path string, data []byte, perm os.FileMode, o Owner) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil && (o.UID >= 0 || o.GID >= 0) {
		err = tmp.Chown(o.UID, o.GID)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return SyncDir(dir)
}

// WriteJSON is WriteFile of v's JSON encoding and a newline.
func WriteJSON(path string, v any, perm os.FileMode) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'), perm)
}

// SyncDir fsyncs a folder, making the renames and creations in it durable;
// "" is the current folder, as filepath.Split gives it.
func SyncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// ReadJSON decodes the file at path into v.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}
