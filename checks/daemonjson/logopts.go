package daemonjson

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// common log options every driver with metadata accepts.
var metaOpts = []string{"env", "env-regex", "labels", "labels-regex", "tag"}

// logDrivers are the built-in drivers on Linux with the options their
// ValidateLogOpt accepts (daemon/logger/*). nil means any option.
var logDrivers = map[string][]string{
	"json-file":  append([]string{"max-file", "max-size", "compress"}, metaOpts...),
	"local":      {"max-file", "max-size", "compress"},
	"journald":   metaOpts,
	"syslog":     append([]string{"syslog-address", "syslog-facility", "syslog-tls-ca-cert", "syslog-tls-cert", "syslog-tls-key", "syslog-tls-skip-verify", "syslog-format"}, metaOpts...),
	"gelf":       append([]string{"gelf-address", "gelf-compression-level", "gelf-compression-type", "gelf-tcp-max-reconnect", "gelf-tcp-reconnect-delay"}, metaOpts...),
	"fluentd":    append([]string{"fluentd-address", "fluentd-async", "fluentd-async-connect", "fluentd-buffer-limit", "fluentd-max-retries", "fluentd-request-ack", "fluentd-retry-wait", "fluentd-sub-second-precision"}, metaOpts...),
	"awslogs":    {"awslogs-group", "awslogs-stream", "awslogs-create-group", "awslogs-region", "awslogs-endpoint", "tag", "awslogs-datetime-format", "awslogs-multiline-pattern", "awslogs-credentials-endpoint", "awslogs-force-flush-interval-seconds", "awslogs-max-buffered-events", "awslogs-format", "awslogs-create-stream"},
	"splunk":     append([]string{"splunk-url", "splunk-token", "splunk-source", "splunk-sourcetype", "splunk-index", "splunk-capath", "splunk-caname", "splunk-insecureskipverify", "splunk-format", "splunk-verify-connection", "splunk-gzip", "splunk-gzip-level", "splunk-index-acknowledgment"}, metaOpts...),
	"gcplogs":    {"gcp-project", "labels", "labels-regex", "env", "env-regex", "gcp-log-cmd", "gcp-meta-zone", "gcp-meta-name", "gcp-meta-id"},
	"logentries": nil,
	"none":       nil,
}

// builtinLogOpts are handled by the daemon for every driver (mode, the
// ring buffer and the dual-logging cache).
var builtinLogOpts = map[string]bool{"mode": true, "max-buffer-size": true, "cache-disabled": true, "cache-max-size": true, "cache-max-file": true, "cache-compress": true}

// checkLogOpts mirrors setupDefaultLogConfig: dockerd validates the default
// log options at start-up only when some are set.
func (c *checker) checkLogOpts() {
	driver, drvOff, _ := c.str("log-driver")
	if driver == "" {
		driver = "json-file"
	}
	opts := map[string]string{}
	optOff := map[string]int{}
	if n := c.file("log-opts"); n != nil && n.kind == kObject {
		for _, m := range n.members {
			if m.val.kind == kString {
				opts[m.key], optOff[m.key] = m.val.str, m.val.off
			}
		}
	}
	for _, v := range c.flagValues("log-opt") {
		k, val, _ := strings.Cut(v, "=")
		opts[k], optOff[k] = val, -1
	}
	allowed, builtin := logDrivers[driver]
	if len(opts) == 0 {
		return
	}
	if driver == "none" {
		return
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fail := func(k, msg, remedy string) {
		off := drvOff
		if o, ok := optOff[k]; ok {
			off = o
		}
		c.fail("log-opts", off, "failed to set log opts: "+msg, remedy)
	}
	mode := opts["mode"]
	if mode != "" && mode != "blocking" && mode != "non-blocking" {
		fail("mode", fmt.Sprintf("logging mode not supported: %s", mode), `use "blocking" or "non-blocking"`)
	}
	if s, ok := opts["max-buffer-size"]; ok {
		if mode != "non-blocking" {
			fail("max-buffer-size", "max-buffer-size option is only supported with 'mode=non-blocking'", `add "mode": "non-blocking" or remove "max-buffer-size"`)
		} else if _, err := ramInBytes(s); err != nil {
			fail("max-buffer-size", "error parsing option max-buffer-size: "+err.Error(), `use a size like "4m"`)
		}
	}
	if v := opts["cache-disabled"]; v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			fail("cache-disabled", fmt.Sprintf("invalid value for option cache-disabled: %s", v), `use "true" or "false"`)
		}
	}
	if !builtin {
		return // a plugin: whether it is installed is a host check (CheckHost)
	}
	if allowed != nil {
		ok := map[string]bool{}
		for _, a := range allowed {
			ok[a] = true
		}
		for _, k := range keys {
			if !ok[k] && !builtinLogOpts[k] {
				fail(k, fmt.Sprintf("unknown log opt '%s' for %s log driver", k, driver), fmt.Sprintf("remove it; %s accepts: %s", driver, strings.Join(allowed, ", ")))
			}
		}
	}
	c.driverValues(driver, opts, fail)
}

// driverValues checks the option values dockerd's driver validators parse
// at start-up, and warns about those only parsed when a container starts.
func (c *checker) driverValues(driver string, o map[string]string, fail func(k, msg, remedy string)) {
	switch driver {
	case "json-file", "local":
		off := func(k string) int {
			if n := c.file("log-opts"); n != nil {
				if v := n.last(k); v != nil {
					return v.off
				}
			}
			return -1
		}
		if v, ok := o["max-size"]; ok {
			if _, err := fromHumanSize(v); err != nil {
				c.warn(IDValue, "log-opts", off("max-size"), fmt.Sprintf("max-size %q is not a size: dockerd starts, but every container fails to start", v), `use a size like "10m"`)
			}
		}
		if v, ok := o["max-file"]; ok {
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				c.warn(IDValue, "log-opts", off("max-file"), fmt.Sprintf("max-file %q is not a positive integer: dockerd starts, but every container fails to start", v), `use a count like "3"`)
			}
		}
		if v, ok := o["compress"]; ok {
			if _, err := strconv.ParseBool(v); err != nil {
				c.warn(IDValue, "log-opts", off("compress"), fmt.Sprintf("compress %q is not true/false: dockerd starts, but every container fails to start", v), `use "true" or "false"`)
			}
		}
	case "syslog":
		if a := o["syslog-address"]; a != "" {
			if err := syslogAddress(a); err != nil {
				fail("syslog-address", err.Error(), `write it as udp://HOST:514, tcp://HOST:514, tcp+tls://HOST:6514 or unix:///dev/log`)
			}
		}
		if f := o["syslog-facility"]; f != "" && !syslogFacility(f) {
			fail("syslog-facility", "invalid syslog facility", "use a facility name such as daemon, local0 … local7, or 0-23")
		}
		switch o["syslog-format"] {
		case "", "rfc3164", "rfc5424", "rfc5424micro":
		default:
			fail("syslog-format", "Invalid syslog format", `use "rfc3164", "rfc5424" or "rfc5424micro"`)
		}
	case "gelf":
		a := o["gelf-address"]
		u, err := url.Parse(a)
		if a == "" || err != nil || (u.Scheme != "udp" && u.Scheme != "tcp") {
			fail("gelf-address", "gelf-address should be in form proto://address, got "+a, `set "gelf-address": "udp://HOST:12201"`)
			return
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			fail("gelf-address", "gelf: please provide gelf-address as proto://host:port", `set "gelf-address": "udp://HOST:12201"`)
		}
		for _, k := range []string{"gelf-compression-level", "gelf-compression-type"} {
			if _, ok := o[k]; ok && u.Scheme != "udp" {
				fail(k, "compression is only supported on UDP", "remove "+k+" or use udp://")
			}
		}
		if v, ok := o["gelf-compression-level"]; ok {
			if n, err := strconv.Atoi(v); err != nil || n < -1 || n > 9 {
				fail("gelf-compression-level", fmt.Sprintf("unknown value %q for log opt gelf-compression-level", v), "use -1 … 9")
			}
		}
		if v, ok := o["gelf-compression-type"]; ok && v != "gzip" && v != "zlib" && v != "none" {
			fail("gelf-compression-type", fmt.Sprintf("unknown value %q for log opt gelf-compression-type", v), `use "gzip", "zlib" or "none"`)
		}
	case "awslogs":
		if o["awslogs-group"] == "" {
			fail("awslogs-group", "must specify a value for log opt 'awslogs-group'", `set "awslogs-group"`)
		}
		if v := o["awslogs-create-group"]; v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				fail("awslogs-create-group", "must specify valid value for log opt 'awslogs-create-group'", `use "true" or "false"`)
			}
		}
		for _, k := range []string{"awslogs-force-flush-interval-seconds", "awslogs-max-buffered-events"} {
			if v := o[k]; v != "" {
				if n, err := strconv.Atoi(v); err != nil || n <= 0 {
					fail(k, fmt.Sprintf("must specify a positive integer for log opt '%s'", k), "use a positive integer")
				}
			}
		}
		_, dt := o["awslogs-datetime-format"]
		_, ml := o["awslogs-multiline-pattern"]
		if dt && ml {
			fail("awslogs-multiline-pattern", "you cannot configure log opt 'awslogs-datetime-format' and 'awslogs-multiline-pattern' at the same time", "keep one of them")
		}
	case "logentries":
		if o["logentries-token"] == "" {
			fail("logentries-token", "Missing logentries token", `set "logentries-token"`)
		}
	case "fluentd":
		if err := fluentdAddress(o["fluentd-address"]); err != nil {
			fail("fluentd-address", err.Error(), `write "host:port" or "tcp://host:port"`)
		}
		for _, k := range []string{"fluentd-async", "fluentd-async-connect", "fluentd-sub-second-precision", "fluentd-request-ack"} {
			if v := o[k]; v != "" {
				if _, err := strconv.ParseBool(v); err != nil {
					fail(k, fmt.Sprintf("invalid value for %s: %s", k, v), `use "true" or "false"`)
				}
			}
		}
		for _, k := range []string{"fluentd-buffer-limit", "fluentd-max-retries"} {
			if v := o[k]; v != "" {
				if _, err := strconv.Atoi(v); err != nil {
					fail(k, fmt.Sprintf("invalid value for %s: %s", k, v), "use an integer")
				}
			}
		}
	}
}

func syslogAddress(a string) error {
	scheme, _, ok := strings.Cut(a, "://")
	switch {
	case !ok:
		return fmt.Errorf("syslog-address should be in form proto://address, got %v", a)
	case scheme == "tcp" || scheme == "udp" || scheme == "tcp+tls" || scheme == "unix" || scheme == "unixgram":
	default:
		return fmt.Errorf("syslog-address should be in form proto://address, got %v", a)
	}
	u, err := url.Parse(a)
	if err != nil {
		return err
	}
	if scheme == "unix" || scheme == "unixgram" {
		return nil // dockerd also needs the socket to exist on the host
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && !strings.Contains(err.Error(), "missing port in address") {
		return err
	}
	return nil
}

var facilities = map[string]bool{"kern": true, "user": true, "mail": true, "daemon": true, "auth": true, "syslog": true, "lpr": true, "news": true, "uucp": true, "cron": true, "authpriv": true, "ftp": true, "local0": true, "local1": true, "local2": true, "local3": true, "local4": true, "local5": true, "local6": true, "local7": true}

func syslogFacility(f string) bool {
	if facilities[f] {
		return true
	}
	n, err := strconv.Atoi(f)
	return err == nil && n >= 0 && n <= 23
}
