package daemonjson

import (
	"strings"
	"testing"
)

func findingWith(r *Report, id string, sev Severity) *Finding {
	for i, f := range r.Findings {
		if f.ID == id && f.Severity == sev {
			return &r.Findings[i]
		}
	}
	return nil
}

// TestRuleSets pins what differs between dockerd 20.10 and newer releases.
func TestRuleSets(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		version string
		starts  bool
		id      string // a finding expected with the severity below
		sev     Severity
	}{
		{"legacy registry key refused by 20.10", `{"disable-legacy-registry": true}`, "20.10", false, IDUnknown, Fail},
		{"legacy registry key refused by 24", `{"disable-legacy-registry": true}`, "24.0", false, IDUnknown, Fail},
		{"utf-8 BOM refused by 20.10", "\xef\xbb\xbf{}", "20.10", false, IDEncoding, Fail},
		{"utf-8 BOM accepted by 23", "\xef\xbb\xbf{}", "23.0", true, IDSyntax, OK},
		{"utf-16 BOM accepted by 24", "\xff\xfe{\x00}\x00", "24.0", true, IDSyntax, OK},
		{"empty file refused by 20.10", "", "20.10", false, IDSyntax, Fail},
		{"empty file starts 25", " \n", "25.0", true, IDEmpty, Warn},
		{"trailing data ignored by 20.10", `{} x`, "20.10", true, IDTrailing, Warn},
		{"trailing data refused by 23", `{} x`, "23.0", false, IDTrailing, Fail},
		{"20.10 warns what 23 refuses", `{} {}`, "20.10", true, IDUpgradeCompat, Warn},
		{"invalid utf-8 passes 20.10", "{\"labels\": [\"a=\xf6\"]}", "20.10", true, IDEncoding, Warn},
		{"invalid utf-8 refused by 23", "{\"labels\": [\"a=\xf6\"]}", "23.0", false, IDEncoding, Fail},
		{"graph deprecated on 20.10", `{"graph": "/x"}`, "20.10", true, IDDeprecated, Warn},
		{"graph refused by 23", `{"graph": "/x"}`, "23.0", false, IDValue, Fail},
		{"graph unknown on 24", `{"graph": "/x"}`, "24.0", false, IDUnknown, Fail},
		{"cluster-store-opts known on 20.10", `{"cluster-store-opts": {}}`, "20.10", true, IDDeprecated, Warn},
		{"cluster-store-opts unknown on 24", `{"cluster-store-opts": {}}`, "24.0", false, IDUnknown, Fail},
		{"max-download-attempts 0 refused by 20.10", `{"max-download-attempts": 0}`, "20.10", false, IDValue, Fail},
		{"max-download-attempts 0 fine on 23", `{"max-download-attempts": 0}`, "23.0", true, IDValue, OK},
		{"log-level warning on 20.10", `{"log-level": "warning"}`, "20.10", true, IDValue, OK},
		{"log-level warning refused by 25", `{"log-level": "warning"}`, "25.0", false, IDValue, Fail},
		{"log-format unknown on 20.10", `{"log-format": "json"}`, "20.10", false, IDUnknown, Fail},
		{"log-format on 25", `{"log-format": "json"}`, "25.0", true, IDUnknown, OK},
		{"unknown exec-opt ignored by 20.10", `{"exec-opts": ["foo=bar"]}`, "20.10", true, IDValue, Warn},
		{"unknown exec-opt refused by 28", `{"exec-opts": ["foo=bar"]}`, "28.0", false, IDValue, Fail},
		{"negative mtu refused by 20.10 creating the bridge", `{"mtu": -1}`, "20.10", false, IDValue, Fail},
		{"negative mtu starts 20.10 without a bridge", `{"mtu": -1, "bridge": "none"}`, "20.10", true, IDValue, Warn},
		{"negative mtu refused by 23", `{"mtu": -1}`, "23.0", false, IDValue, Fail},
		{"oom-score-adjust on 20.10", `{"oom-score-adjust": -500}`, "20.10", true, IDUnknown, OK},
		{"oom-score-adjust unknown on 26", `{"oom-score-adjust": -500}`, "26.1", false, IDUnknown, Fail},
		{"proxies unknown on 20.10", `{"proxies": {"http-proxy": "http://p:3128"}}`, "20.10", false, IDUnknown, Fail},
		{"proxies on 23", `{"proxies": {"http-proxy": "http://p:3128"}}`, "23.0", true, IDUnknown, OK},
		{"top-level http-proxy ignored on 23", `{"http-proxy": "http://p:3128"}`, "23.0", true, IDIgnored, Warn},
		{"default-network-opts ignored on 20.10", `{"default-network-opts": {"bridge": {"a": "b"}}}`, "20.10", true, IDIgnored, Warn},
		{"default-network-opts on 24", `{"default-network-opts": {"bridge": {"a": "b"}}}`, "24.0", true, IDType, OK},
		{"ip6tables needs experimental before 27", `{"ip6tables": true, "iptables": true}`, "20.10", false, IDValue, Fail},
		{"ip6tables fine on 27", `{"ip6tables": true}`, "27.0", true, IDValue, OK},
		{"api-cors-header refused by 28", `{"api-cors-header": "*"}`, "28.0", false, IDValue, Fail},
		{"dns checked at decode on 25", `{"dns": ["dns.example.com"]}`, "25.0", false, IDType, Fail},
		{"dns checked by Validate on 20.10", `{"dns": ["dns.example.com"]}`, "20.10", false, IDValue, Fail},
		{"null file", `null`, "20.10", true, IDTopLevel, Warn},
		{"array file", `[]`, "20.10", false, IDTopLevel, Fail},
		{"duplicate key", `{"debug": true, "debug": false}`, "20.10", true, IDDuplicate, Warn},
		{"duplicate key bad first value", `{"debug": 1, "debug": false}`, "20.10", false, IDType, Fail},
		{"flag name in file is ignored", `{"log-opt": "x"}`, "20.10", true, IDIgnored, Warn},
		{"log-opts number", `{"log-opts": {"max-file": 3}}`, "20.10", false, IDType, Fail},
		{"shm size null", `{"default-shm-size": null}`, "20.10", false, IDType, Fail},
		{"pool too small", `{"default-address-pools": [{"base": "10.0.0.0/16", "size": 8}]}`, "20.10", false, IDValue, Fail},
		{"unknown log driver is left to the host check", `{"log-driver": "nope", "log-opts": {"a": "b"}}`, "20.10", true, IDValue, OK},
		{"tlsverify false still enables tls", `{"tlsverify": false}`, "20.10", false, IDValue, Fail},
		{"bad host", `{"hosts": ["http://x"]}`, "24.0", false, IDValue, Fail},
		{"builder filter crash", `{"builder": {"gc": {"policy": [{"filter": ["x"]}]}}}`, "20.10", false, IDType, Fail},
		{"deep nesting", strings.Repeat("[", maxDepth+1), "20.10", false, IDSyntax, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Validate([]byte(tt.data), Options{File: "daemon.json", DockerVersion: tt.version})
			if r.Starts() != tt.starts {
				t.Errorf("Starts() = %v, want %v; findings: %+v", r.Starts(), tt.starts, r.Findings)
			}
			if findingWith(r, tt.id, tt.sev) == nil {
				t.Errorf("no %s finding %s; findings: %+v", tt.sev, tt.id, r.Findings)
			}
		})
	}
}

func TestPositionsAndSuggestions(t *testing.T) {
	tests := []struct {
		data      string
		id        string
		line, col int
		remedy    string
	}{
		{"{\n  \"live_restore\": true\n}", IDUnknown, 2, 3, `"live-restore"`},
		{"{\n  \"liveRestore\": true\n}", IDUnknown, 2, 3, `"live-restore"`},
		{`{"log-lvel": "info"}`, IDUnknown, 1, 2, `"log-level"`},
		{`{"registry-mirror": ["x"]}`, IDIgnored, 1, 2, `"registry-mirrors"`},
		{"{\n  \"a\": 1,\n}", IDSyntax, 3, 1, "trailing comma"},
		{"{\n  // c\n}", IDSyntax, 2, 3, "comment"},
		{"{\"labels\": [\"é=1\", \"x\"]}", IDValue, 1, 20, `"key=value"`},
		{`{"debug": "yes"}`, IDType, 1, 11, "without quotes"},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			r := Validate([]byte(tt.data), Options{File: "d.json"})
			var f *Finding
			for i := range r.Findings {
				if r.Findings[i].ID == tt.id && r.Findings[i].Severity != OK {
					f = &r.Findings[i]
					break
				}
			}
			if f == nil {
				t.Fatalf("no %s finding: %+v", tt.id, r.Findings)
			}
			if f.Line != tt.line || f.Col != tt.col {
				t.Errorf("at %d:%d, want %d:%d (%s)", f.Line, f.Col, tt.line, tt.col, f.Message)
			}
			if !strings.Contains(f.Remedy, tt.remedy) {
				t.Errorf("remedy %q does not mention %q", f.Remedy, tt.remedy)
			}
		})
	}
}

func TestFlagConflicts(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		argv     []string
		conflict string // key expected in conflict, "" for none
		starts   bool
	}{
		{"-H against hosts", `{"hosts": ["unix:///s"]}`, []string{"/usr/bin/dockerd", "-H", "fd://"}, "hosts", false},
		{"--host= against hosts", `{"hosts": ["unix:///s"]}`, []string{"dockerd", "--host=fd://"}, "hosts", false},
		{"-Hfd:// against hosts", `{"hosts": ["unix:///s"]}`, []string{"dockerd", "-Hfd://"}, "hosts", false},
		{"combined -D", `{"debug": true}`, []string{"dockerd", "-Dl", "info"}, "debug", false},
		{"-l against log-level", `{"log-level": "info"}`, []string{"dockerd", "-Dl", "info"}, "log-level", false},
		{"--live-restore=false against file", `{"live-restore": true}`, []string{"dockerd", "--live-restore=false"}, "live-restore", false},
		{"--label against labels", `{"labels": ["a=b"]}`, []string{"dockerd", "--label", "c=d"}, "labels", false},
		{"--add-runtime merges with runtimes", `{"runtimes": {"x": {"path": "/x"}}}`, []string{"dockerd", "--add-runtime", "y=/y"}, "", true},
		{"flattened member conflicts", `{"foo": {"debug": true}}`, []string{"dockerd", "--debug"}, "debug", false},
		{"unrelated flags", `{"debug": true}`, []string{"dockerd", "--containerd=/run/containerd/containerd.sock", "-H", "fd://"}, "", true},
		{"unknown flag", `{}`, []string{"dockerd", "--no-such-flag"}, "", false},
		{"graph flag gone in 24", `{}`, []string{"dockerd", "-g", "/x"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version := "20.10"
			if strings.Contains(tt.name, "24") {
				version = "24.0"
			}
			r := Validate([]byte(tt.data), Options{DockerVersion: version, ExecStart: tt.argv})
			got := ""
			for _, f := range r.Findings {
				if f.ID == IDConflict && f.Severity == Fail {
					got = f.Key
				}
			}
			if got != tt.conflict {
				t.Errorf("conflict on %q, want %q: %+v", got, tt.conflict, r.Findings)
			}
			if r.Starts() != tt.starts {
				t.Errorf("Starts() = %v, want %v: %+v", r.Starts(), tt.starts, r.Findings)
			}
		})
	}
}

func TestUpgradeSafety(t *testing.T) {
	tests := []struct {
		name           string
		data           string
		argv           []string
		swarm, strict  bool
		starts, passed bool
		id             string
		sev            Severity
	}{
		{"on", `{"live-restore": true}`, nil, false, false, true, true, IDLiveRestore, OK},
		{"missing", `{}`, nil, false, false, true, true, IDLiveRestore, Warn},
		{"false strict", `{"live-restore": false}`, nil, false, true, true, false, IDLiveRestore, Fail},
		{"on by flag", `{}`, []string{"dockerd", "--live-restore"}, false, true, true, true, IDLiveRestore, OK},
		{"swarm refuses live-restore", `{"live-restore": true}`, nil, true, false, false, false, IDSwarm, Fail},
		{"swarm refuses flag too", `{}`, []string{"dockerd", "--live-restore"}, true, false, false, false, IDSwarm, Fail},
		{"swarm without live-restore", `{}`, nil, true, true, true, true, IDLiveRestore, Warn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Validate([]byte(tt.data), Options{ExecStart: tt.argv, Swarm: tt.swarm, Strict: tt.strict})
			if r.Starts() != tt.starts || r.Passed() != tt.passed {
				t.Errorf("Starts=%v Passed=%v, want %v %v: %+v", r.Starts(), r.Passed(), tt.starts, tt.passed, r.Findings)
			}
			if findingWith(r, tt.id, tt.sev) == nil {
				t.Errorf("no %s %s: %+v", tt.sev, tt.id, r.Findings)
			}
		})
	}
}

func TestKeysReloadable(t *testing.T) {
	r := Validate([]byte(`{"debug": true, "data-root": "/x", "live-restore": true, "nope": 1}`), Options{})
	want := map[string][2]bool{"debug": {true, true}, "data-root": {true, false}, "live-restore": {true, true}, "nope": {false, false}}
	if len(r.Keys) != len(want) {
		t.Fatalf("keys %+v", r.Keys)
	}
	for _, k := range r.Keys {
		if w := want[k.Name]; k.Known != w[0] || k.Reloadable != w[1] {
			t.Errorf("%s: known=%v reloadable=%v, want %v", k.Name, k.Known, k.Reloadable, w)
		}
	}
	keys, err := ReloadableKeys("24.0")
	if err != nil || len(keys) == 0 || strings.Contains(strings.Join(keys, ","), "cluster-store") {
		t.Errorf("ReloadableKeys(24.0) = %v, %v", keys, err)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		err  bool
	}{
		{"20.10", V2010, false},
		{"20.10.24", V2010, false},
		{"v24.0.7", Version{24, 0}, false},
		{"Docker version 20.10.24+dfsg1, build 5d6db84", V2010, false},
		{"28", Version{28, 0}, false},
		{"26.1.5+dfsg1", Version{26, 1}, false},
		{"27.5", Version{27, 5}, false},
		{"19.03", Version{}, true},
		{"latest", Version{}, true},
		// Not releases: 21 and 22 do not exist, 23 had one minor.
		{"21.0", Version{}, true},
		{"22.06", Version{}, true},
		{"23.5", Version{}, true},
		{"20.11.0", Version{}, true},
		{"26.2", Version{}, true},
		// After the newest known release: a later release, Current's rules.
		{"28.6", Version{28, 6}, false},
		{"29.0.1", Version{29, 0}, false},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v", tt.in, got, err)
		}
	}
	_, err := ParseVersion("23.5")
	if err == nil || !strings.Contains(err.Error(), "never released") ||
		!strings.Contains(err.Error(), "20.10, 23.0, 24.0, 25.0, 26.0 to 26.1, 27.0 to 27.5, 28.0 to 28.5") {
		t.Errorf("ParseVersion(23.5) error %v: want it to name the releases", err)
	}
}

// TestReleases: the release list is ordered and ends with the newest rule
// set, so no version before Current is refused by mistake.
func TestReleases(t *testing.T) {
	if Releases[0] != V2010 || Releases[len(Releases)-1] != Current {
		t.Errorf("releases run %v to %v, want %v to %v", Releases[0], Releases[len(Releases)-1], V2010, Current)
	}
	for i := 1; i < len(Releases); i++ {
		if !Releases[i-1].less(Releases[i]) {
			t.Errorf("releases out of order at %v", Releases[i])
		}
	}
}

// TestValidateVersion: a version that is no release fails as the docker
// version finding; one after Current is judged by Current's rules.
func TestValidateVersion(t *testing.T) {
	tests := []struct {
		version, rules string
		fails          bool
	}{
		{"24.0.7", "24.0", false},
		{"21.0", "21.0", true},
		{"22.06", "22.06", true},
		{"23.5", "23.5", true},
		{"29.0", Current.String(), false},
	}
	for _, tt := range tests {
		r := Validate([]byte(`{"live-restore": true}`), Options{DockerVersion: tt.version})
		failed := len(r.Findings) > 0 && r.Findings[0].ID == IDVersion && r.Findings[0].Severity == Fail
		if failed != tt.fails || r.DockerVersion != tt.rules || r.Starts() == tt.fails {
			t.Errorf("%s: rules %s, findings %+v; want rules %s, version failure %v", tt.version, r.DockerVersion, r.Findings, tt.rules, tt.fails)
		}
	}
}
