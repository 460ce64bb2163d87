package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/liveswap/liveswap/runtime"
)

// MaxRequestBody bounds a request body: the API subset takes small JSON
// documents only (a create request), so a larger body is refused before
// it costs memory or disk.
const MaxRequestBody = 1 << 20

// bounded refuses bodies over MaxRequestBody (413; at once when
// Content-Length says so) and gives a body readTimeout to arrive (408).
// The deadline is lifted once the body is read, so a response that
// streams afterwards is not cut.
func bounded(next http.Handler, readTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isImageUpload(r) {
			// An archive: its handler bounds it (MaxImageBody).
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > MaxRequestBody {
			w.Header().Set("Connection", "close")
			writeError(w, tooLarge())
			return
		}
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			rc := http.NewResponseController(w)
			if readTimeout > 0 {
				rc.SetReadDeadline(time.Now().Add(readTimeout))
			}
			r.Body = http.MaxBytesReader(w, &deadlineBody{ReadCloser: r.Body, rc: rc}, MaxRequestBody)
		}
		next.ServeHTTP(w, r)
	})
}

// isImageUpload reports a docker load or import, whose body is an image
// archive, not a JSON document.
func isImageUpload(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	p := r.URL.Path
	return strings.HasSuffix(p, "/images/load") || strings.HasSuffix(p, "/images/create") && r.URL.Query().Get("fromSrc") == "-"
}

// deadlineBody lifts the connection's read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func tooLarge() error {
	return fmt.Errorf("request body larger than the %d bytes (1 MiB) liveswapd accepts: %w", MaxRequestBody, runtime.ErrTooLarge)
}

// bodyError categorises an error met while reading a request body.
func bodyError(what string, err error) error {
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		return tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: the request body did not arrive within the read timeout (api-read-timeout): %w", what, runtime.ErrTimeout)
	}
	return fmt.Errorf("%s: %v: %w", what, err, runtime.ErrInvalid)
}
