package checks

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

func sampleReport(strict bool) *Report {
	return &Report{
		Target: TargetInfo{Kind: "docker", Unit: "docker.service", Systemd: "system", Endpoint: "unix:///var/run/docker.sock",
			DaemonConfig: "/etc/docker/daemon.json", Binary: "/usr/sbin/dockerd", NewBinary: "/tmp/dockerd"},
		FromVersion: "20.10.24+dfsg1", ToVersion: "20.10.25", Strict: strict,
		Started: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), Duration: 412 * time.Millisecond,
		Results: []CheckResult{
			{ID: "unit.loaded", Description: "loaded", Result: Result{Status: OK, Message: "docker.service loaded"}, Duration: time.Millisecond},
			{ID: "unit.kill-mode", Description: "kill mode", Result: Result{Status: Fail, Message: "KillMode=control-group: <kills> & \"more\"", Remedy: "set KillMode=process"}},
			{ID: "workload.healthcheck", Description: "healthcheck", Result: Result{Status: Warn, Message: "no healthcheck: web", Remedy: "add one", Details: []string{"web: none"}}},
			{ID: "host.lock", Description: "lock", Result: Result{Status: Skip, Message: "skipped (--skip host.lock)"}},
		},
	}
}

// jsonKeys lists every field path of v, arrays as NAME[].
func jsonKeys(prefix string, v any, out map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			jsonKeys(p, val, out)
		}
	case []any:
		for _, e := range t {
			jsonKeys(prefix+"[]", e, out)
		}
	}
}

// TestJSONSchema pins the JSON field list and checks that docs/preflight.md
// documents every field: scripts depend on these names.
func TestJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport(false).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	jsonKeys("", v, keys)
	var got []string
	for k := range keys {
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{
		"checks", "checks[].description", "checks[].details", "checks[].duration_ms", "checks[].id", "checks[].message",
		"checks[].remedy", "checks[].status", "duration_ms", "from_version", "passed", "schema", "started_at", "strict",
		"summary", "summary.fail", "summary.ok", "summary.skip", "summary.warn",
		"target", "target.binary", "target.daemon_config", "target.endpoint", "target.kind", "target.new_binary", "target.systemd", "target.unit",
		"to_version",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("JSON fields changed (update docs/preflight.md and, if a field went away, the schema version):\n got %v\nwant %v", got, want)
	}
	doc, err := os.ReadFile("../docs/preflight.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range want {
		if !bytes.Contains(doc, []byte("| `"+k+"` |")) {
			t.Errorf("docs/preflight.md does not document JSON field %s", k)
		}
	}
	var rep JSONReport
	json.Unmarshal(buf.Bytes(), &rep)
	if rep.Schema != SchemaVersion || rep.Passed || rep.Summary != (JSONSummary{OK: 1, Warn: 1, Fail: 1, Skip: 1}) {
		t.Errorf("report = %+v", rep)
	}
}

// TestDocumentedIDs: every check ID appears in docs/preflight.md.
func TestDocumentedIDs(t *testing.T) {
	doc, err := os.ReadFile("../docs/preflight.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range PreflightChecks() {
		if !bytes.Contains(doc, []byte("| `"+c.ID+"` |")) {
			t.Errorf("docs/preflight.md does not document check %s", c.ID)
		}
	}
}

type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	tests := []struct {
		strict       bool
		wantFailures int
		wantFailed   string
	}{
		{false, 1, "unit.kill-mode"},
		{true, 2, "unit.kill-mode workload.healthcheck"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := sampleReport(tt.strict).WriteJUnit(&buf); err != nil {
			t.Fatal(err)
		}
		var doc junitDoc
		if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("junit does not parse: %v\n%s", err, buf.String())
		}
		if doc.Tests != 4 || doc.Failures != tt.wantFailures || doc.Skipped != 1 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 4 {
			t.Fatalf("strict=%v: counts tests=%d failures=%d skipped=%d\n%s", tt.strict, doc.Tests, doc.Failures, doc.Skipped, buf.String())
		}
		var failed []string
		for _, c := range doc.Suites[0].Cases {
			if c.Failure != nil {
				failed = append(failed, c.Name)
			}
			if c.Name == "host.lock" && (c.Skipped == nil || !strings.Contains(c.Skipped.Message, "--skip")) {
				t.Errorf("host.lock not <skipped>: %+v", c)
			}
			if c.Name == "unit.kill-mode" {
				if c.Classname != "liveswap.preflight.unit" || !strings.Contains(c.Failure.Text, "remedy: set KillMode=process") ||
					c.Failure.Message != `KillMode=control-group: <kills> & "more"` {
					t.Errorf("unit.kill-mode case = %+v", c)
				}
			}
			if c.Name == "unit.loaded" && !strings.Contains(c.SystemOut, "[ok] docker.service loaded") {
				t.Errorf("unit.loaded system-out = %q", c.SystemOut)
			}
		}
		if strings.Join(failed, " ") != tt.wantFailed {
			t.Errorf("strict=%v: failed %v, want %s", tt.strict, failed, tt.wantFailed)
		}
		props := map[string]string{}
		for _, p := range doc.Suites[0].Properties {
			props[p.Name] = p.Value
		}
		if props["unit"] != "docker.service" || props["to_version"] != "20.10.25" {
			t.Errorf("properties = %v", props)
		}
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport(false).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"preflight of docker.service (docker, system manager) at unix:///var/run/docker.sock: 20.10.24+dfsg1 -> 20.10.25",
		"[ok]    unit.loaded",
		"[fail]  unit.kill-mode",
		"[skip]  host.lock             skipped (--skip host.lock)",
		"[fail] unit.kill-mode: KillMode=control-group",
		"    remedy: set KillMode=process",
		"    web: none",
		"1 ok, 1 warning(s), 1 failed, 1 skipped",
		"FAILED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if err := sampleReport(false).Write(&buf, "yaml"); err == nil {
		t.Error("Write accepted an unknown format")
	}
}
