// Package errdefs holds liveswapd's error categories: every refusal of the
// daemon and its parts wraps one, and the API server maps each to an HTTP
// status (runtime/api's errors.go). It is the one package every part of
// liveswapd may import, so a category is one value wherever it is made.
package errdefs

import "errors"

// The categories, with the status the API gives them.
var (
	ErrNotFound    = errors.New("not found")                  // 404
	ErrConflict    = errors.New("conflict")                   // 409
	ErrInvalid     = errors.New("invalid parameter")          // 400
	ErrNotModified = errors.New("not modified")               // 304
	ErrUnsupported = errors.New("not supported by liveswapd") // 400
	// ErrNotImplemented: the container's configuration cannot do this
	// (logs of a container whose log driver is none). 501.
	ErrNotImplemented = errors.New("not implemented")
	// ErrTooLarge and ErrTimeout: a request body over its limit (413), or
	// not sent within the read timeout (408).
	ErrTooLarge = errors.New("request body too large")
	ErrTimeout  = errors.New("request timeout")
)
