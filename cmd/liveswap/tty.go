package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal (colour, bars and prompts only
// then).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ttyProgress draws progress bars and spinners on a terminal.
type ttyProgress struct{ w io.Writer }

func newTTYProgress(w io.Writer) *ttyProgress { return &ttyProgress{w: w} }

func (p *ttyProgress) Bytes(label string, total int64) func(int64) {
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish())
	return func(n int64) { bar.Add64(n) }
}

func (p *ttyProgress) Wait(label string) func() {
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(label),
		progressbar.OptionSpinnerType(14), progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionClearOnFinish())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				bar.Add(1)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		bar.Finish()
	}
}
