package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/liveswap/liveswap/runtime"
	"github.com/liveswap/liveswap/runtime/image"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// errMessage is an error's text without the category suffixes the API
// strips too.
func errMessage(err error) string {
	msg := err.Error()
	for _, cat := range []error{runtime.ErrNotFound, runtime.ErrConflict, runtime.ErrInvalid, runtime.ErrUnsupported, runtime.ErrStartFailed, runtime.ErrNotImplemented, runtime.ErrTooLarge, runtime.ErrTimeout, image.ErrNotFound, image.ErrConflict, image.ErrInvalid} {
		for errors.Is(err, cat) && len(msg) > len(cat.Error())+2 && msg[len(msg)-len(cat.Error())-2:] == ": "+cat.Error() {
			msg = msg[:len(msg)-len(cat.Error())-2]
		}
	}
	return msg
}

// writeError maps error categories to status codes, with dockerd's JSON
// body shape.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, runtime.ErrNotModified):
		w.WriteHeader(http.StatusNotModified)
		return
	case errors.Is(err, runtime.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, runtime.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, runtime.ErrInvalid), errors.Is(err, runtime.ErrUnsupported):
		code = http.StatusBadRequest
	case errors.Is(err, runtime.ErrShuttingDown):
		code = http.StatusServiceUnavailable
	case errors.Is(err, runtime.ErrNotImplemented):
		code = http.StatusNotImplemented
	case errors.Is(err, runtime.ErrTooLarge):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, runtime.ErrTimeout):
		code = http.StatusRequestTimeout
	}
	writeJSON(w, code, map[string]string{"message": errMessage(err)})
}
