package plan

import "strings"

// FlagValues returns the values of a daemon flag in argv, in the forms
// dockerd and liveswapd accept: --name v, --name=v, -X v, -X=v, -Xv.
func FlagValues(argv []string, long, short string) []string {
	var out []string
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		for _, name := range []string{long, short} {
			if name == "" {
				continue
			}
			switch {
			case a == name && i+1 < len(argv):
				out = append(out, argv[i+1])
			case strings.HasPrefix(a, name+"="):
				out = append(out, a[len(name)+1:])
			case len(name) == 2 && strings.HasPrefix(a, name) && len(a) > 2 && a[2] != '=':
				out = append(out, a[2:])
			}
		}
	}
	return out
}

// ConfigFileFlag is the --config-file a daemon command line (argv[0] the
// binary) names, "" when it names none.
func ConfigFileFlag(argv []string) string { return FlagValue(argv, "--config-file", "") }

// FlagValue is the last value FlagValues finds, "" when none.
func FlagValue(argv []string, long, short string) string {
	v := FlagValues(argv, long, short)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}
