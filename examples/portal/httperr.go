package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/persistkit/persist"
)

// requestError is a problem with the request itself, found before the store
// was asked: a malformed body, header or query parameter.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// writeError answers with the status err calls for and {"error": "..."}.
// Client errors (4xx) echo the error, which names only what the client sent.
// Server errors answer with a fixed text and are logged instead, since a
// driver message may name hosts, users or queries the client must not see;
// persist has already redacted any URL in what is logged.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &re):
		writeJSONError(w, re.status, re.msg)
	case errors.As(err, &mbe):
		writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
	case errors.Is(err, persist.ErrClosed):
		writeJSONError(w, http.StatusServiceUnavailable, "service is shutting down")
	case errors.Is(err, persist.ErrUnavailable):
		s.log.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "database unavailable")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Canceled means the client went away; nobody reads the answer.
		writeJSONError(w, http.StatusServiceUnavailable, "request timed out")
	case errors.Is(err, persist.ErrNotFound):
		writeJSONError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, persist.ErrConflict):
		writeJSONError(w, http.StatusConflict, err.Error())
	case errors.Is(err, persist.ErrInvalid):
		writeJSONError(w, http.StatusBadRequest, err.Error())
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
	}
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here, and they always encode.
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
