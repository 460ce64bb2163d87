// Package plan holds the UpgradePlan document: what daemon to upgrade, which
// binaries to swap, under which policy, and which workloads prove that
// nothing was interrupted. Plans are YAML (apiVersion liveswap/v1), decoded
// strictly, defaulted per target kind, and validated before anything runs.
package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/internal/host/probe"
)

// APIVersion and Kind identify a plan document.
const (
	APIVersion = "liveswap/v1"
	Kind       = "UpgradePlan"
)

// Plan is an upgrade plan.
type Plan struct {
	APIVersion string     `yaml:"apiVersion" json:"apiVersion"`
	Kind       string     `yaml:"kind" json:"kind"`
	Target     Target     `yaml:"target" json:"target"`
	Binaries   []Binary   `yaml:"binaries" json:"binaries"`
	Policy     Policy     `yaml:"policy" json:"policy"`
	Canary     Canary     `yaml:"canary,omitempty" json:"canary,omitempty"`
	Workloads  []Workload `yaml:"workloads,omitempty" json:"workloads,omitempty"`
	// Packages, when set, are installed with dpkg instead of swapping
	// binaries: Binaries then name the files the packages hold
	// (plan/packages.go).
	Packages []Package `yaml:"packages,omitempty" json:"packages,omitempty"`
}

// Target is the daemon being upgraded.
type Target struct {
	Kind         string `yaml:"kind" json:"kind"`                 // docker or liveswapd
	Unit         string `yaml:"unit" json:"unit"`                 // systemd unit, e.g. docker.service
	Systemd      string `yaml:"systemd" json:"systemd"`           // system or user manager
	Endpoint     string `yaml:"endpoint" json:"endpoint"`         // unix:///var/run/docker.sock
	DaemonConfig string `yaml:"daemonConfig" json:"daemonConfig"` // daemon.json path
}

// Binary is one file to replace: the daemon itself or another program of
// its stack (containerd in its own unit, the shim, runc).
type Binary struct {
	Path            string `yaml:"path" json:"path"`                                           // the file the unit runs
	NewFile         string `yaml:"newFile" json:"newFile"`                                     // the replacement
	SHA256          string `yaml:"sha256,omitempty" json:"sha256,omitempty"`                   // of NewFile
	ExpectedVersion string `yaml:"expectedVersion,omitempty" json:"expectedVersion,omitempty"` // what the daemon must report
	// Component is the program the file is (dockerd, containerd,
	// containerd-shim-runc-v2, runc, liveswapd); empty: known by its name.
	Component string `yaml:"component,omitempty" json:"component,omitempty"`
	// Unit is the systemd unit that runs it when not the target's (Debian's
	// containerd.service); empty: the target's, or none for runc and the shim.
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
}

// Policy says how careful to be.
type Policy struct {
	AllowMinor           bool     `yaml:"allowMinor" json:"allowMinor"`
	AllowMajor           bool     `yaml:"allowMajor,omitempty" json:"allowMajor,omitempty"`
	AllowDowngrade       bool     `yaml:"allowDowngrade" json:"allowDowngrade"`
	InsecureSkipChecksum bool     `yaml:"insecureSkipChecksum,omitempty" json:"insecureSkipChecksum,omitempty"`
	Rollback             string   `yaml:"rollback" json:"rollback"` // auto or never
	ReadyTimeout         Duration `yaml:"readyTimeout" json:"readyTimeout"`
	StopTimeout          Duration `yaml:"stopTimeout" json:"stopTimeout"`
	MaxProbeFailures     int      `yaml:"maxProbeFailures" json:"maxProbeFailures"`
	KeepBackups          int      `yaml:"keepBackups" json:"keepBackups"`
	Skip                 []string `yaml:"skipChecks,omitempty" json:"skipChecks,omitempty"`
}

// Canary is a short-lived container the new daemon must be able to run.
type Canary struct {
	Image   string   `yaml:"image,omitempty" json:"image,omitempty"`
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	Skip    bool     `yaml:"skip,omitempty" json:"skip,omitempty"`
}

// Workload is a probe of one container during the swap.
type Workload struct {
	Container string     `yaml:"container" json:"container"`
	Probe     probe.Kind `yaml:"probe" json:"probe"`     // http, redis or tcp
	Address   string     `yaml:"address" json:"address"` // URL for http, HOST:PORT otherwise
	Interval  Duration   `yaml:"interval,omitempty" json:"interval,omitempty"`
}

// Spec turns the workload into a probe spec.
func (w Workload) Spec() probe.Spec {
	return probe.Spec{Name: w.Container, Kind: w.Probe, Target: w.Address, Interval: w.Interval.D()}
}

// Duration is a time.Duration written as "30s" in YAML and JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts Go duration strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (examples: 500ms, 30s, 2m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes the duration as a string (JSON).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration string (JSON).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MaxSize bounds a plan file. A plan names a target, a few binaries and
// its workloads: a few KiB. A larger file is a mistake (the wrong file) or
// an attempt to make the journal unreadable, and is refused before it is
// read whole.
const MaxSize = 1 << 20

// Load reads, strictly decodes, defaults and validates the plan at path,
// and checks the files it names (CheckFiles); errors name the plan file.
func Load(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("plan %s is over %d bytes (1 MiB), the most a plan may be: check that it is the plan you meant (`liveswap plan -o plan.yaml` writes one of a few KiB)", path, MaxSize)
	}
	p, err := Parse(b)
	if err == nil {
		err = p.CheckFiles()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

var yamlLine = regexp.MustCompile(`^yaml: (unmarshal errors:\n\s*)?`)

// Parse decodes a plan: an unknown field is an error naming its line.
func Parse(b []byte) (*Plan, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("the plan is %d bytes, over the %d (1 MiB) a plan may be", len(b), MaxSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Plan
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the plan is empty (start from `liveswap plan -o plan.yaml` or playbooks/)")
		}
		return nil, errors.New(yamlLine.ReplaceAllString(err.Error(), ""))
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("more than one YAML document: a plan file holds one UpgradePlan")
	}
	p.Default()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Marshal renders the plan as YAML.
func (p *Plan) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Default fills in what the plan left out.
func (p *Plan) Default() {
	if p.APIVersion == "" {
		p.APIVersion = APIVersion
	}
	if p.Kind == "" {
		p.Kind = Kind
	}
	if p.Target.Kind == "" {
		p.Target.Kind = Docker
	}
	if k, err := KindOf(p.Target.Kind); err == nil {
		k.defaults(p)
	}
	if p.Policy.Rollback == "" {
		p.Policy.Rollback = "auto"
	}
	if p.Policy.ReadyTimeout == 0 {
		p.Policy.ReadyTimeout = Duration(60 * time.Second)
	}
	if p.Policy.StopTimeout == 0 {
		p.Policy.StopTimeout = Duration(30 * time.Second)
	}
	if p.Policy.KeepBackups == 0 {
		p.Policy.KeepBackups = 2
	}
	if p.Canary.Image != "" && len(p.Canary.Command) == 0 {
		p.Canary.Command = []string{"/bin/true"}
	}
	for i := range p.Workloads {
		if p.Workloads[i].Interval == 0 {
			p.Workloads[i].Interval = Duration(defaultInterval)
		}
	}
}

func def(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidSHA256 reports whether s is a sha256 as sha256sum prints it.
func ValidSHA256(s string) bool { return hexSHA.MatchString(s) }

// CheckEndpoint accepts the target's unix socket only: liveswap restarts
// a daemon on this host, which a tcp:// endpoint need not be.
func CheckEndpoint(s string) error {
	if ep, err := engine.ParseEndpoint(s); err != nil || ep.Scheme != "unix" {
		return fmt.Errorf("%q: use unix:///path/to/socket", s)
	}
	return nil
}

// Validate reports every problem at once, each naming its field.
func (p *Plan) Validate() error {
	var errs []string
	add := func(field, format string, a ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, a...))
	}
	if p.APIVersion != APIVersion {
		add("apiVersion", "%q is not supported (use %s)", p.APIVersion, APIVersion)
	}
	if p.Kind != Kind {
		add("kind", "%q is not supported (use %s)", p.Kind, Kind)
	}
	if _, err := KindOf(p.Target.Kind); err != nil {
		add("target.kind", "%v", err)
	}
	if p.Target.Systemd != "system" && p.Target.Systemd != "user" {
		add("target.systemd", "%q: use system or user", p.Target.Systemd)
	}
	if !strings.HasSuffix(p.Target.Unit, ".service") {
		add("target.unit", "%q is not a service unit name (example: docker.service)", p.Target.Unit)
	}
	if err := CheckEndpoint(p.Target.Endpoint); err != nil {
		add("target.endpoint", "%v", err)
	}
	if p.Target.DaemonConfig != "" {
		if err := checkPath(p.Target.DaemonConfig, "/etc/docker/daemon.json"); err != nil {
			add("target.daemonConfig", "%v", err)
		}
	}
	if len(p.Binaries) == 0 {
		add("binaries", "nothing to swap: list at least the daemon binary (path, newFile, sha256)")
	}
	seen := map[string]bool{}
	for i, b := range p.Binaries {
		f := fmt.Sprintf("binaries[%d]", i)
		if err := checkPath(b.Path, "/usr/bin/dockerd"); err != nil {
			add(f+".path", "%v", err)
		}
		if seen[b.Path] {
			add(f+".path", "%q is listed twice", b.Path)
		}
		seen[b.Path] = true
		if err := checkPath(b.NewFile, "/srv/dockerd-20.10.24"); err != nil {
			add(f+".newFile", "%v", err)
		}
		if b.NewFile == b.Path && b.Path != "" {
			add(f+".newFile", "is the file it replaces; stage the new binary elsewhere")
		}
		if b.Component != "" && ComponentOf(b.Component) == nil {
			add(f+".component", "%q is not a component (use %s)", b.Component, strings.Join(ComponentNames(), ", "))
		}
		if b.Unit != "" && !strings.HasSuffix(b.Unit, ".service") {
			add(f+".unit", "%q is not a service unit name (example: containerd.service)", b.Unit)
		}
		if c := ComponentOf(b.Component); c != nil && c.Unit == "" && b.Unit != "" {
			add(f+".unit", "%s runs in no unit of its own: leave unit out", b.Component)
		}
		if b.SHA256 == "" && !p.Policy.InsecureSkipChecksum {
			add(f+".sha256", "missing (sha256sum NEWFILE), or set policy.insecureSkipChecksum: true")
		} else if b.SHA256 != "" && !hexSHA.MatchString(b.SHA256) {
			add(f+".sha256", "%q is not 64 lowercase hex digits", b.SHA256)
		}
	}
	errs = append(errs, p.validatePackages()...)
	if p.Policy.Rollback != "auto" && p.Policy.Rollback != "never" {
		add("policy.rollback", "%q: use auto or never", p.Policy.Rollback)
	}
	if p.Policy.ReadyTimeout < 0 || p.Policy.StopTimeout < 0 {
		add("policy", "timeouts must be positive")
	}
	if p.Policy.MaxProbeFailures < 0 {
		add("policy.maxProbeFailures", "must be 0 or more")
	}
	if p.Policy.KeepBackups < 1 {
		add("policy.keepBackups", "must be at least 1: a rollback needs the newest backup")
	}
	names := map[string]bool{}
	for i, w := range p.Workloads {
		f := fmt.Sprintf("workloads[%d]", i)
		if w.Container == "" {
			add(f+".container", "missing")
		}
		if names[w.Container+string(w.Probe)+w.Address] {
			add(f, "duplicate probe of %s", w.Container)
		}
		names[w.Container+string(w.Probe)+w.Address] = true
		if err := w.Spec().Validate(); err != nil {
			add(f, "%v", err)
		}
		if w.Interval.D() < time.Millisecond && w.Interval != 0 {
			add(f+".interval", "%s is too short (at least 1ms)", w.Interval)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid plan:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
