package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine bounds one line of the journal when it is read. liveswap writes
// far shorter ones (MaxEntry): a longer line is not its own, and reading it
// whole could exhaust memory, so it is an error naming file:line.
const MaxLine = 4 << 20

// MaxEntry bounds one line liveswap writes to the journal.
const MaxEntry = 1 << 20

// ErrLineTooLong means a journal line is over MaxLine bytes.
var ErrLineTooLong = errors.New("line too long")

// Lines calls fn with each line of r (without its newline) and its number
// from 1, reading at most max bytes of any line. A longer line stops the
// reading with an error naming name:number and the way out; fn's error
// stops it too and is returned as it is.
func Lines(r io.Reader, name string, max int, fn func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		buf = buf[:0]
		for {
			chunk, err := br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if len(bytes.TrimSuffix(buf, []byte("\n"))) > max {
				return fmt.Errorf("%s:%d: %w: over %d bytes (liveswap writes at most %d): the journal was not written by liveswap alone; move it aside (`mv %s %s.bad`) and check the host with `liveswap status` and `docker ps`",
					name, n, ErrLineTooLong, max, MaxEntry, name, name)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			if len(buf) > 0 {
				if ferr := fn(n, bytes.TrimSuffix(buf, []byte("\n"))); ferr != nil {
					return ferr
				}
			}
			if err != nil { // EOF
				return nil
			}
			break
		}
	}
}
