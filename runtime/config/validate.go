package config

import (
	"fmt"
	"io"
)

// ValidateUsage is the help of `liveswapd --validate`; it is also the
// contract liveswap's pre-flight reads.
const ValidateUsage = `load the configuration (file and flags) as a start would, then exit without starting anything: ` +
	`"configuration OK" on stderr, "live-restore: true|false" on stdout and exit 0; ` +
	`or the error (file, line, key) on stderr and exit 1; exit 2 for flags that do not parse`

// Validate is `liveswapd --validate`: it loads the configuration exactly as
// the daemon does on start, so a flag/file conflict is found too, and
// starts nothing (no folder, socket or pidfile). Like dockerd 23+ it says
// "configuration OK" or the error on stderr; the live-restore line on
// stdout is what an upgrade needs to know beyond "it starts".
func Validate(flags *Flags, stdout, stderr io.Writer) int {
	cfg, err := flags.Load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stderr, "configuration OK")
	fmt.Fprintf(stdout, "live-restore: %t\n", cfg.LiveRestore)
	return 0
}
