package discover

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/liveswap/liveswap/internal/host/systemd"
	"github.com/liveswap/liveswap/plan"
)

// Flags are the target flags `liveswap preflight` and `liveswap plan`
// share. Empty values are discovered from the host.
type Flags struct {
	Target       string // docker or liveswapd (--target)
	Unit         string // --unit
	Systemd      string // system or user (--systemd)
	Endpoint     string // unix:///path.sock (--endpoint)
	DaemonConfig string // daemon.json path (--daemon-config)
	NewBinary    string // --new-binary
	SHA256       string // --sha256

	InsecureSkipChecksum bool // --insecure-skip-checksum
	AllowMinor           bool // --allow-minor
	AllowMajor           bool // --allow-major
	AllowDowngrade       bool // --allow-downgrade
}

// UnitReader reads a unit's properties; *systemd.Manager is one.
type UnitReader interface {
	Unit(ctx context.Context, name string) (*systemd.Unit, error)
}

// FromFlags builds a plan from flags, discovering what they leave out:
// the unit's ExecStart gives the binary to replace, --config-file and -H;
// the daemon.json gives hosts; the target kind's defaults fill the rest.
// units may be nil (nothing is discovered from systemd then); a unit that
// cannot be read is not an error here, since the pre-flight checks report
// it with a remedy.
//
// The plan is defaulted and validated. Without NewBinary it has no new
// file to swap in (Binaries[0].NewFile is empty) and is validated for
// everything else: good for auditing a host, not for applying.
func FromFlags(ctx context.Context, f Flags, units UnitReader) (*plan.Plan, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	p := &plan.Plan{Target: plan.Target{Kind: f.Target, Unit: unitName(f.Unit), Systemd: f.Systemd,
		Endpoint: f.Endpoint, DaemonConfig: f.DaemonConfig}}
	p.Policy.AllowMinor, p.Policy.AllowMajor, p.Policy.AllowDowngrade = f.AllowMinor, f.AllowMajor, f.AllowDowngrade
	p.Policy.InsecureSkipChecksum = f.InsecureSkipChecksum

	var argv []string
	binary := ""
	if units != nil {
		name := p.Target.Unit
		if name == "" {
			name = plan.MustKind(orDocker(p.Target.Kind)).Defaults.Unit
		}
		if u, err := units.Unit(ctx, name); err == nil && u.LoadState == "loaded" && len(u.ExecStart) > 0 {
			binary, argv = u.ExecStart[0].Path, u.ExecStart[0].Argv
			if p.Target.Kind == "" {
				p.Target.Kind = plan.KindOfExec(binary)
			}
		}
	}
	if p.Target.Kind == "" {
		p.Target.Kind = plan.Docker
	}
	if p.Target.DaemonConfig == "" {
		p.Target.DaemonConfig = plan.ConfigFileFlag(argv)
	}
	if p.Target.Endpoint == "" {
		p.Target.Endpoint = unixHost(plan.FlagValues(argv, "--host", "-H"))
	}
	p.Default() // the daemon.json path is known from here on
	if f.Endpoint == "" && unixHost(plan.FlagValues(argv, "--host", "-H")) == "" {
		if hosts := configHosts(p.Target.DaemonConfig); unixHost(hosts) != "" {
			p.Target.Endpoint = unixHost(hosts)
		}
	}
	if binary == "" {
		binary = p.Spec().Binary
	}
	b := plan.Binary{Path: binary, SHA256: strings.ToLower(strings.TrimSpace(f.SHA256))}
	if f.NewBinary != "" {
		abs, err := filepath.Abs(f.NewBinary)
		if err != nil {
			return nil, fmt.Errorf("--new-binary %s: %w", f.NewBinary, err)
		}
		b.NewFile = abs
	}
	p.Binaries = []plan.Binary{b}
	if b.NewFile != "" {
		return p, p.Validate()
	}
	// Validate everything but the missing new file.
	probe := *p
	probe.Binaries = []plan.Binary{{Path: b.Path, NewFile: "/new", SHA256: strings.Repeat("0", 64)}}
	return p, probe.Validate()
}

func orDocker(kind string) string {
	if kind == "" {
		return plan.Docker
	}
	return kind
}

// check rejects malformed flag values before anything is discovered.
func (f Flags) check() error {
	var errs []string
	if f.Target != "" {
		if _, err := plan.KindOf(f.Target); err != nil {
			errs = append(errs, fmt.Sprintf("--target %v", err))
		}
	}
	if f.Systemd != "" && f.Systemd != "system" && f.Systemd != "user" {
		errs = append(errs, fmt.Sprintf("--systemd %q: use system or user", f.Systemd))
	}
	if err := plan.CheckEndpoint(f.Endpoint); f.Endpoint != "" && err != nil {
		errs = append(errs, "--endpoint "+err.Error())
	}
	if f.SHA256 != "" && !plan.ValidSHA256(strings.ToLower(strings.TrimSpace(f.SHA256))) {
		errs = append(errs, fmt.Sprintf("--sha256 %q: want the 64 hex digits sha256sum prints", f.SHA256))
	}
	if f.SHA256 != "" && f.NewBinary == "" {
		errs = append(errs, "--sha256 without --new-binary: name the file it is the checksum of")
	}
	if f.DaemonConfig != "" && !filepath.IsAbs(f.DaemonConfig) {
		errs = append(errs, fmt.Sprintf("--daemon-config %q: use an absolute path, as the daemon sees it", f.DaemonConfig))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// unitName appends .service to a bare name (docker -> docker.service).
func unitName(s string) string {
	if s == "" || strings.Contains(s, ".") {
		return s
	}
	return s + ".service"
}

// unixHost picks the first unix socket of a hosts list; "unix://" alone
// is dockerd's default socket. fd:// (socket activation) and tcp:// give
// no endpoint liveswap can use.
func unixHost(hosts []string) string {
	for _, h := range hosts {
		if h == "unix://" {
			return "unix:///var/run/docker.sock"
		}
		if strings.HasPrefix(h, "unix:///") {
			return h
		}
	}
	return ""
}

// configHosts reads "hosts" from a daemon.json; nil when the file is
// absent or unreadable (the validator reports that).
func configHosts(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var cfg struct {
		Hosts []string `json:"hosts"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return nil
	}
	return cfg.Hosts
}
