package main

import (
	"fmt"
	"os"
	"time"

	"github.com/liveswap/liveswap/internal/testbed"
)

// benchTB is the testbed's session for the benchmark, with a progress line
// that always prints: the benchmark takes minutes and says where it is.
type benchTB struct{ *testbed.Session }

func newBenchTB(verbose bool) (*benchTB, error) {
	s, err := testbed.NewSession("lsbench-up-", os.Stderr, verbose)
	if err != nil {
		return nil, err
	}
	return &benchTB{s}, nil
}

func (t *benchTB) progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}
