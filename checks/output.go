package checks

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// SchemaVersion names the JSON report's schema (docs/preflight.md).
// Fields are only ever added; a change that removes or renames one
// bumps it.
const SchemaVersion = "liveswap.preflight/v1"

// JSONReport is the JSON form of a Report (`--output json`).
type JSONReport struct {
	Schema      string      `json:"schema"`
	Passed      bool        `json:"passed"`
	Strict      bool        `json:"strict"`
	Target      JSONTarget  `json:"target"`
	FromVersion string      `json:"from_version"`
	ToVersion   string      `json:"to_version"`
	Summary     JSONSummary `json:"summary"`
	Checks      []JSONCheck `json:"checks"`
	StartedAt   time.Time   `json:"started_at"`
	DurationMS  float64     `json:"duration_ms"`
}

// JSONTarget is the target part of JSONReport.
type JSONTarget struct {
	Kind         string `json:"kind"`
	Unit         string `json:"unit"`
	Systemd      string `json:"systemd"`
	Endpoint     string `json:"endpoint"`
	DaemonConfig string `json:"daemon_config"`
	Binary       string `json:"binary"`
	NewBinary    string `json:"new_binary"`
}

// JSONSummary counts the checks per status.
type JSONSummary struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// JSONCheck is one check's result.
type JSONCheck struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Status      Status   `json:"status"`
	Message     string   `json:"message"`
	Remedy      string   `json:"remedy"`
	Details     []string `json:"details"`
	DurationMS  float64  `json:"duration_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// JSON converts the report to its documented JSON shape.
func (r *Report) JSON() JSONReport {
	out := JSONReport{
		Schema: SchemaVersion, Passed: !r.Failed(), Strict: r.Strict,
		Target: JSONTarget{Kind: r.Target.Kind, Unit: r.Target.Unit, Systemd: r.Target.Systemd, Endpoint: r.Target.Endpoint,
			DaemonConfig: r.Target.DaemonConfig, Binary: r.Target.Binary, NewBinary: r.Target.NewBinary},
		FromVersion: r.FromVersion, ToVersion: r.ToVersion,
		Summary:   JSONSummary{OK: r.Count(OK), Warn: r.Count(Warn), Fail: r.Count(Fail), Skip: r.Count(Skip)},
		Checks:    []JSONCheck{},
		StartedAt: r.Started.UTC(), DurationMS: ms(r.Duration),
	}
	for _, c := range r.Results {
		details := c.Details
		if details == nil {
			details = []string{}
		}
		out.Checks = append(out.Checks, JSONCheck{ID: c.ID, Description: c.Description, Status: c.Status,
			Message: c.Message, Remedy: c.Remedy, Details: details, DurationMS: ms(c.Duration)})
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.JSON())
}

// WriteTable writes one line per check, `[status] id  message`, with the
// remedy and details indented below, and a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	t := r.Target
	from, to := orUnknown(r.FromVersion), orUnknown(r.ToVersion)
	fmt.Fprintf(&b, "preflight of %s (%s, %s manager) at %s: %s -> %s\n", t.Unit, t.Kind, t.Systemd, t.Endpoint, from, to)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", "["+string(c.Status)+"]", c.ID, oneLine(c.Message))
	}
	tw.Flush()
	// Remedies and details after the table, so that long lines do not
	// stretch its columns.
	for _, c := range r.Results {
		if c.Status == OK || c.Status == Skip {
			continue
		}
		fmt.Fprintf(&b, "\n[%s] %s: %s\n", c.Status, c.ID, oneLine(c.Message))
		if c.Remedy != "" {
			fmt.Fprintf(&b, "    remedy: %s\n", c.Remedy)
		}
		for _, d := range c.Details {
			fmt.Fprintf(&b, "    %s\n", d)
		}
	}
	fmt.Fprintf(&b, "\n%d ok, %d warning(s), %d failed, %d skipped in %s: ",
		r.Count(OK), r.Count(Warn), r.Count(Fail), r.Count(Skip), r.Duration.Round(time.Millisecond))
	switch {
	case r.Failed() && r.Count(Fail) == 0:
		b.WriteString("FAILED (warnings count as failures with --strict)\n")
	case r.Failed():
		b.WriteString("FAILED: the upgrade would be refused\n")
	default:
		b.WriteString("passed\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub actions).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes one testcase per check: failed checks (and warnings
// under --strict) as <failure>, skipped ones as <skipped>, warnings
// otherwise as passing cases whose system-out says so.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "liveswap preflight", Time: secs(r.Duration), Timestamp: r.Started.UTC().Format(time.RFC3339)}
	for _, p := range [][2]string{{"kind", r.Target.Kind}, {"unit", r.Target.Unit}, {"systemd", r.Target.Systemd},
		{"endpoint", r.Target.Endpoint}, {"daemon_config", r.Target.DaemonConfig}, {"binary", r.Target.Binary},
		{"new_binary", r.Target.NewBinary}, {"from_version", r.FromVersion}, {"to_version", r.ToVersion}} {
		s.Properties = append(s.Properties, junitProperty{Name: p[0], Value: p[1]})
	}
	for _, c := range r.Results {
		group, _, _ := strings.Cut(c.ID, ".")
		tc := junitCase{Name: c.ID, Classname: "liveswap.preflight." + group, Time: secs(c.Duration)}
		text := c.Message
		if c.Remedy != "" {
			text += "\nremedy: " + c.Remedy
		}
		for _, d := range c.Details {
			text += "\n" + d
		}
		switch {
		case c.Status == Fail || (c.Status == Warn && r.Strict):
			tc.Failure = &junitMessage{Message: oneLine(c.Message), Type: string(c.Status), Text: text}
			s.Failures++
		case c.Status == Skip:
			tc.Skipped = &junitMessage{Message: oneLine(c.Message)}
			s.Skipped++
		default:
			tc.SystemOut = "[" + string(c.Status) + "] " + text
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
	}
	out := junitSuites{Name: "liveswap", Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Write renders the report in format (table, json or junit).
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "", "table":
		return r.WriteTable(w)
	case "json":
		return r.WriteJSON(w)
	case "junit":
		return r.WriteJUnit(w)
	}
	return fmt.Errorf("--output %q: use table, json or junit", format)
}
