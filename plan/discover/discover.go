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
	Target       string   // docker or liveswapd (--target)
	Unit         string   // --unit
	Systemd      string   // system or user (--systemd)
	Endpoint     string   // unix:///path.sock (--endpoint)
	DaemonConfig string   // daemon.json path (--daemon-config)
	NewBinary    []string // --new-binary, repeatable
	SHA256       []string // --sha256, one per --new-binary, in order
	// Components names the component of each new binary (as its version
	// probe says; the caller runs it); "" or missing: the target's daemon.
	Components []string

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
	// The plan names the file itself, not a link to it: a link would be
	// replaced while the file the daemon runs stayed (plan.CheckFiles).
	if real, err := filepath.EvalSymlinks(binary); err == nil && real != binary {
		binary = real
	}
	if len(f.NewBinary) == 0 {
		// Validate everything but the missing new file.
		p.Binaries = []plan.Binary{{Path: binary}}
		probe := *p
		probe.Binaries = []plan.Binary{{Path: binary, NewFile: "/new", SHA256: strings.Repeat("0", 64)}}
		return p, probe.Validate()
	}
	seen := map[string]string{}
	for i, nb := range f.NewBinary {
		abs, err := filepath.Abs(nb)
		if err != nil {
			return nil, fmt.Errorf("--new-binary %s: %w", nb, err)
		}
		b := plan.Binary{Path: binary, NewFile: abs}
		if i < len(f.SHA256) {
			b.SHA256 = strings.ToLower(strings.TrimSpace(f.SHA256[i]))
		}
		comp := ""
		if i < len(f.Components) {
			comp = f.Components[i]
		}
		if comp != "" && comp != p.DaemonComponent() {
			b.Component = comp
			b.Path, b.Unit = componentPlace(ctx, plan.ComponentOf(comp), units)
			if plan.ComponentOf(comp).BesideDaemon {
				b.Path = filepath.Join(filepath.Dir(binary), filepath.Base(b.Path))
			}
		} else if comp != "" {
			b.Component = comp
		}
		key := comp
		if key == "" {
			key = p.DaemonComponent()
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("--new-binary %s and %s are both %s: give one new binary per component", prev, nb, key)
		}
		seen[key] = nb
		p.Binaries = append(p.Binaries, b)
	}
	return p, p.Validate()
}

// componentPlace is where a component other than the daemon runs: the
// ExecStart of its usual unit when that unit is loaded (Debian's
// containerd.service), else the file it usually is, restarted with the
// target (dockerd's own child containerd) or by no unit (runc, the shim).
func componentPlace(ctx context.Context, c *plan.ComponentSpec, units UnitReader) (path, unit string) {
	if c.Unit != "" && units != nil {
		if u, err := units.Unit(ctx, c.Unit); err == nil && u.LoadState == "loaded" && len(u.ExecStart) > 0 {
			return u.ExecStart[0].Path, c.Unit
		}
	}
	return c.Binary, ""
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
	for _, sum := range f.SHA256 {
		if !plan.ValidSHA256(strings.ToLower(strings.TrimSpace(sum))) {
			errs = append(errs, fmt.Sprintf("--sha256 %q: want the 64 hex digits sha256sum prints", sum))
		}
	}
	switch {
	case len(f.SHA256) > 0 && len(f.NewBinary) == 0:
		errs = append(errs, "--sha256 without --new-binary: name the file it is the checksum of")
	case len(f.SHA256) > 0 && len(f.SHA256) != len(f.NewBinary):
		errs = append(errs, fmt.Sprintf("%d --new-binary and %d --sha256: they come in pairs, --new-binary PATH --sha256 HEX for each binary", len(f.NewBinary), len(f.SHA256)))
	case len(f.SHA256) == 0 && len(f.NewBinary) > 1 && !f.InsecureSkipChecksum:
		errs = append(errs, "several --new-binary without --sha256: give --new-binary PATH --sha256 HEX for each binary")
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
