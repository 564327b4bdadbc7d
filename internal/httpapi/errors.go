package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// Error is an API error: an HTTP status, a short machine-readable code and a
// message for people.
type Error struct {
	Status int
	Code   string
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

func badParam(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_parameter", Detail: fmt.Sprintf(format, args...)}
}

// body is the JSON shape of every error answer.
type body struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

// handler is an http.Handler that returns its error, so errors are mapped
// to answers in one place (writeError).
type handler func(w http.ResponseWriter, r *http.Request) error

func (a *API) wrap(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// writeError maps err to a status and a JSON body. Only 5xx are logged, once.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, store.ErrNotFound):
		e = &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "no post mentions this CVE"}
	case errors.Is(err, context.Canceled):
		return // the client went away; nobody reads the answer
	default:
		a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: "internal_error", Detail: "the server failed to answer; it has been logged"}
	}
	writeJSON(w, e.Status, body{Error: e.Code, Detail: e.Detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
