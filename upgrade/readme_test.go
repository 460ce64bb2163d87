package upgrade

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestReadmeReport: the README's report example is a report liveswap can
// write — every key a field, none shown that liveswap leaves out (an empty
// "error"), none left out that it always writes.
func TestReadmeReport(t *testing.T) {
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "### The report")
	_, rest, ok2 := strings.Cut(rest, "```jsonc\n")
	example, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no ```jsonc block under \"### The report\"")
	}
	example = regexp.MustCompile(`(?m)\s+//[^"\n]*$`).ReplaceAllString(example, "")
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("the example is not a report: %v\n%s", err, example)
	}
	var shown, written any
	json.Unmarshal([]byte(example), &shown)
	b, _ := json.Marshal(&rep)
	json.Unmarshal(b, &written)
	if got, want := paths("", shown), paths("", written); !reflect.DeepEqual(got, want) {
		t.Errorf("the example shows fields\n%v\nliveswap writes for the same values\n%v", got, want)
	}
	if !bytes.Contains(doc, []byte("TestReadmeReport")) {
		t.Error("README.md does not say which test pins its example")
	}
}

// paths lists every key path of v, list elements as NAME[].
func paths(prefix string, v any) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			out = append(out, prefix+k)
			out = append(out, paths(prefix+k+".", val)...)
		}
	case []any:
		for _, e := range t {
			out = append(out, paths(strings.TrimSuffix(prefix, ".")+"[].", e)...)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
