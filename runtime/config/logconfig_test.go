package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseLogConfig(t *testing.T) {
	tests := []struct {
		driver string
		opts   map[string]string
		want   LogConfig
		err    string
	}{
		{"", nil, LogConfig{Driver: "json-file", MaxFiles: 1}, ""},
		{"json-file", map[string]string{"max-size": "10m", "max-file": "5"}, LogConfig{Driver: "json-file", MaxSize: 10 << 20, MaxFiles: 5}, ""},
		{"json-file", map[string]string{"max-size": "-1"}, LogConfig{Driver: "json-file", MaxFiles: 1}, ""},
		{"json-file", map[string]string{"max-size": "1k"}, LogConfig{Driver: "json-file", MaxSize: 1024, MaxFiles: 1}, ""},
		{"none", nil, LogConfig{Driver: "none", MaxFiles: 1}, ""},
		{"syslog", nil, LogConfig{}, `log driver "syslog" is not supported by liveswapd`},
		{"local", nil, LogConfig{}, `log driver "local" is not supported`},
		{"json-file", map[string]string{"max-size": "0"}, LogConfig{}, "positive size"},
		{"json-file", map[string]string{"max-size": "1k", "max-file": "0"}, LogConfig{}, "cannot be less than 1"},
		{"json-file", map[string]string{"max-file": "2"}, LogConfig{}, "needs max-size"},
		{"json-file", map[string]string{"labels": "a"}, LogConfig{}, `log-opt "labels" is not supported`},
		{"none", map[string]string{"max-size": "1k"}, LogConfig{}, "takes no log-opt"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.driver, tt.opts), func(t *testing.T) {
			got, err := ParseLogConfig(tt.driver, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
