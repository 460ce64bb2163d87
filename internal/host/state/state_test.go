package state

import (
	"errors"
	"os"
	"strconv"
	"testing"
)

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	if held, _, err := Holder(dir); held || err != nil {
		t.Fatalf("before any lock: held %v, %v", held, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	held, holder, err := Holder(dir)
	if !held || holder != strconv.Itoa(os.Getpid()) || err != nil {
		t.Fatalf("while held: held %v by %q, %v", held, holder, err)
	}
	l.Release()
	if held, _, _ := Holder(dir); held {
		t.Fatal("still held after release")
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}
