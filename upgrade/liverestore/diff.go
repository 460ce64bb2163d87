package liverestore

import (
	"fmt"
	"strings"
)

// Diff renders a unified diff (one hunk, three lines of context) of old and
// new as `diff -u` would name them. SetTrue changes one place, or a few
// when the key is duplicated, so one hunk spanning the first to the last
// changed line is exact enough and needs no general diff algorithm.
func Diff(path string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	a, b := lines(string(old)), lines(string(new))
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	const context = 3
	start := max(pre-context, 0)
	endA := min(len(a)-suf+context, len(a))
	endB := min(len(b)-suf+context, len(b))
	var sb strings.Builder
	oldName := path
	if len(old) == 0 {
		oldName = "/dev/null"
	}
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", oldName, path)
	fmt.Fprintf(&sb, "@@ -%s +%s @@\n", span(start, endA-start), span(start, endB-start))
	for _, l := range a[start:pre] {
		sb.WriteString(" " + l)
	}
	for _, l := range a[pre : len(a)-suf] {
		sb.WriteString("-" + l)
	}
	for _, l := range b[pre : len(b)-suf] {
		sb.WriteString("+" + l)
	}
	for _, l := range a[len(a)-suf : endA] {
		sb.WriteString(" " + l)
	}
	return sb.String()
}

// span is a hunk range: 1-based start and length, "start" alone for one
// line and "start-1,0" for none, as diff -u writes them.
func span(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// lines splits s keeping line ends; a last line without one gets the
// marker diff uses.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.SplitAfter(s, "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if last := parts[len(parts)-1]; !strings.HasSuffix(last, "\n") {
		parts[len(parts)-1] = last + "\n\\ No newline at end of file\n"
	}
	return parts
}
