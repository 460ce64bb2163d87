package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	units "github.com/docker/go-units"

	"github.com/liveswap/liveswap/runtime/errdefs"
)

// Log drivers liveswapd implements. Any other is refused, never replaced
// silently by json-file.
const (
	LogDriverJSONFile = "json-file"
	LogDriverNone     = "none"
)

// LogConfig is a container's log driver as the shim runs it.
type LogConfig struct {
	Driver   string // LogDriverJSONFile or LogDriverNone
	MaxSize  int64  // bytes per file before rotation; 0 = unbounded
	MaxFiles int    // files kept, the current one included (>= 1)
}

// ParseLogConfig checks a log driver and its options (a container's
// HostConfig.LogConfig, or daemon.json's log-driver and log-opts) with
// the rules of dockerd's json-file driver, for the options liveswapd
// implements: max-size and max-file. "" is json-file.
func ParseLogConfig(driver string, opts map[string]string) (LogConfig, error) {
	lc := LogConfig{Driver: driver, MaxFiles: 1}
	switch driver {
	case "", LogDriverJSONFile:
		lc.Driver = LogDriverJSONFile
	case LogDriverNone:
		if len(opts) > 0 {
			return lc, fmt.Errorf("log driver none takes no log-opt (got %s): %w", optNames(opts), errdefs.ErrInvalid)
		}
		return lc, nil
	default:
		return lc, fmt.Errorf("log driver %q is not supported by liveswapd: use json-file (log-opts max-size, max-file) or none: %w", driver, errdefs.ErrUnsupported)
	}
	for _, k := range sortedOpts(opts) {
		v := opts[k]
		switch k {
		case "max-size":
			if v == "-1" {
				continue // dockerd's "unbounded"
			}
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return lc, fmt.Errorf("log-opt max-size=%q: give a positive size such as 512k or 10m (or -1 for no limit): %w", v, errdefs.ErrInvalid)
			}
			lc.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return lc, fmt.Errorf("log-opt max-file=%q: max-file cannot be less than 1: %w", v, errdefs.ErrInvalid)
			}
			lc.MaxFiles = n
		default:
			return lc, fmt.Errorf("log-opt %q is not supported by liveswapd's json-file driver: it implements max-size and max-file only: %w", k, errdefs.ErrUnsupported)
		}
	}
	if lc.MaxFiles > 1 && lc.MaxSize == 0 {
		return lc, fmt.Errorf("log-opt max-file=%d needs max-size: without a size limit nothing is rotated: %w", lc.MaxFiles, errdefs.ErrInvalid)
	}
	return lc, nil
}

func sortedOpts(opts map[string]string) []string {
	out := make([]string, 0, len(opts))
	for k := range opts {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func optNames(opts map[string]string) string {
	return fmt.Sprint(sortedOpts(opts))
}

// errMessage is an error's text without the category suffixes the API
// strips too (ParseLogConfig's refusals wrap ErrInvalid or ErrUnsupported).
func errMessage(err error) string {
	msg := err.Error()
	for _, cat := range []error{errdefs.ErrInvalid, errdefs.ErrUnsupported} {
		for errors.Is(err, cat) && len(msg) > len(cat.Error())+2 && msg[len(msg)-len(cat.Error())-2:] == ": "+cat.Error() {
			msg = msg[:len(msg)-len(cat.Error())-2]
		}
	}
	return msg
}
