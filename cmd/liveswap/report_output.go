package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/liveswap/liveswap/upgrade"
)

// writeReport renders an upgrade report as table, json or junit.
func writeReport(w io.Writer, format string, r *upgrade.Report) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "junit":
		return writeReportJUnit(w, r)
	case "table", "":
		return writeReportTable(w, r)
	}
	return fmt.Errorf("--output %q: use table, json or junit", format)
}

func writeReportTable(w io.Writer, r *upgrade.Report) error {
	fmt.Fprintf(w, "result:   %s\n", r.Result)
	fmt.Fprintf(w, "unit:     %s (%s)\n", r.Unit, r.Target)
	fmt.Fprintf(w, "version:  %s -> %s\n", orDash(r.FromVersion), orDash(r.ToVersion))
	if r.Result != upgrade.Planned {
		fmt.Fprintf(w, "downtime: %.0f ms (engine API unreachable); %d of %d API calls failed\n", r.DaemonDowntimeMS, r.APIErrors, r.APICalls)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Checks) > 0 {
		fmt.Fprintln(tw, "\nCHECK\tSTATUS\tMESSAGE")
		for _, c := range r.Checks {
			if c.Status != "ok" {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, c.Status, c.Message)
			}
		}
	}
	if len(r.Phases) > 0 {
		fmt.Fprintln(tw, "\nPHASE\tSTATUS\tTIME\tERROR OR DETAIL")
		for _, p := range r.Phases {
			note := p.Error
			if note == "" {
				note = p.Detail
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f ms\t%s\n", p.Name, p.Status, p.DurationMS, note)
		}
	}
	if len(r.Containers) > 0 {
		fmt.Fprintln(tw, "\nCONTAINER\tPID BEFORE\tPID AFTER\tINTERRUPTED\tREASON\tDATA")
		for _, c := range r.Containers {
			data := c.Data
			if c.DataLost {
				data = "LOST: " + data
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%v\t%s\t%s\n", c.Name, c.PidBefore, c.PidAfter, c.Interrupted, c.Reason, data)
		}
	}
	if len(r.Probes) > 0 {
		fmt.Fprintln(tw, "\nPROBE\tKIND\tTARGET\tSENT\tFAILED\tMAX GAP\tP99")
		for _, p := range r.Probes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.1f ms\t%.1f ms\n", p.Name, p.Kind, p.Target, p.Sent, p.Failed, p.MaxGapMS, p.P99MS)
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(tw, "\nSTEPS (dry run: nothing was touched)")
		for i, s := range r.Steps {
			fmt.Fprintf(tw, "%2d. %s\n", i+1, s)
		}
	}
	tw.Flush()
	if r.Error != "" {
		fmt.Fprintf(w, "\nerror:  %s\n", r.Error)
	}
	if r.Remedy != "" {
		fmt.Fprintf(w, "remedy: %s\n", r.Remedy)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// writeReportJUnit makes one test case per phase, container and probe.
func writeReportJUnit(w io.Writer, r *upgrade.Report) error {
	s := junitSuite{Name: "liveswap apply " + r.Unit}
	add := func(class, name string, secs float64, fail string, skipped *junitSkipped) {
		c := junitCase{Name: name, Classname: class, Time: secs}
		if fail != "" {
			c.Failure = &junitFailure{Message: fail, Text: fail}
			s.Failures++
		}
		if skipped != nil {
			c.Skipped = skipped
			s.Skipped++
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
		s.Time += secs
	}
	for _, p := range r.Phases {
		var skipped *junitSkipped
		if p.Status == upgrade.PhaseSkipped {
			skipped = &junitSkipped{Message: p.Detail}
		}
		add("liveswap.phase", p.Name, p.DurationMS/1000, p.Error, skipped)
	}
	for _, c := range r.Containers {
		var fail []string
		if c.Interrupted {
			fail = append(fail, c.Reason)
		}
		if c.DataLost {
			fail = append(fail, "data lost: "+c.Data)
		}
		add("liveswap.container", c.Name, 0, strings.Join(fail, "; "), nil)
	}
	for _, p := range r.Probes {
		fail := ""
		if p.Failed > 0 {
			fail = fmt.Sprintf("%d of %d probes failed", p.Failed, p.Sent)
		}
		add("liveswap.probe", p.Name+" "+string(p.Kind), 0, fail, nil)
	}
	if r.Result != upgrade.Upgraded && r.Result != upgrade.Planned {
		add("liveswap.result", string(r.Result), 0, strings.TrimSpace(string(r.Result)+": "+r.Error), nil)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
