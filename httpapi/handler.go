package httpapi

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	sfu "github.com/gosfu/sfu"
)

// DefaultMaxBodySize bounds a request body (1 MiB).
const DefaultMaxBodySize = 1 << 20

// TargetHeader is the header that names the operation.
const TargetHeader = "x-sora-target"

// CORS headers sent when an origin is configured: Sora's, plus
// Authorization, which a browser must be allowed to send for the bearer
// token (WithBearerToken) to work across origins.
const (
	corsAllowHeaders = "Origin, X-Requested-With, Content-Type, Accept, Authorization, x-sora-target"
	corsAllowMethods = "POST, OPTIONS"
	corsMaxAge       = "1000"
)

// handler serves the management API of one engine.
type handler struct {
	engine      *sfu.Engine
	log         *slog.Logger
	maxBodySize int64
	corsOrigin  string
	token       string
	router      Router // router.go; nil serves everything here
}

// Option configures the handler.
type Option func(*handler)

// WithMaxBodySize bounds a request body (default 1 MiB); a larger body is
// answered 413 PAYLOAD-TOO-LARGE. n <= 0 keeps the default.
func WithMaxBodySize(n int64) Option {
	return func(h *handler) {
		if n > 0 {
			h.maxBodySize = n
		}
	}
}

// WithCORSOrigin allows browser pages from origin (e.g.
// "http://127.0.0.1:5000") to call the API: every answer then carries
// Sora's CORS headers and OPTIONS preflights are answered. Off by default.
func WithCORSOrigin(origin string) Option { return func(h *handler) { h.corsOrigin = origin } }

// WithLogger sets the logger (default: discard). Unexpected errors are
// logged at error level, every call at debug level.
func WithLogger(l *slog.Logger) Option {
	return func(h *handler) {
		if l != nil {
			h.log = l
		}
	}
}

// WithBearerToken requires "Authorization: Bearer <token>" on every
// request except CORS preflights; others are answered 401 UNAUTHORIZED.
// An empty token disables the check (the default). For any other scheme,
// wrap the handler in your own middleware.
func WithBearerToken(token string) Option { return func(h *handler) { h.token = token } }

// NewHandler returns an http.Handler serving Sora's x-sora-target
// management API for engine. It answers every path, so it can be mounted
// under any prefix (with http.StripPrefix or not).
func NewHandler(engine *sfu.Engine, opts ...Option) http.Handler {
	h := &handler{
		engine:      engine,
		log:         slog.New(slog.DiscardHandler),
		maxBodySize: DefaultMaxBodySize,
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.corsOrigin != "" {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", h.corsOrigin)
		hd.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		hd.Set("Access-Control-Allow-Methods", corsAllowMethods)
		hd.Set("Access-Control-Max-Age", corsMaxAge)
	}
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Allow", corsAllowMethods)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", corsAllowMethods)
		h.writeError(w, &apiError{http.StatusMethodNotAllowed, ErrorMethodNotAllowed,
			fmt.Sprintf("method %s not allowed: use POST", r.Method)})
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gosfu"`)
		h.writeError(w, &apiError{http.StatusUnauthorized, ErrorUnauthorized, "missing or wrong bearer token"})
		return
	}
	res, err := h.serve(w, r)
	if err == errRouted {
		return
	}
	if err != nil {
		ae, known := classify(err)
		if !known {
			h.log.Error("management API", "target", r.Header.Get(TargetHeader), "err", err)
		}
		h.writeError(w, ae)
		return
	}
	body, err := json.Marshal(res)
	if err != nil {
		h.log.Error("management API: marshal answer", "target", r.Header.Get(TargetHeader), "err", err)
		h.writeError(w, &apiError{http.StatusInternalServerError, ErrorInternal, "internal error"})
		return
	}
	h.write(w, http.StatusOK, body)
}

// serve parses the target and the body and runs the operation.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) (res any, err error) {
	t, err := parseTarget(r.Header.Get(TargetHeader))
	if err != nil {
		return nil, err
	}
	f, ok := registry[t]
	if !ok && h.router == nil {
		return nil, &apiError{http.StatusBadRequest, ErrorInvalidTarget, fmt.Sprintf("unknown operation %q", t)}
	}
	p, body, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if h.router != nil && h.route(w, r, t, p, body) {
		return nil, errRouted
	}
	if !ok {
		return nil, &apiError{http.StatusBadRequest, ErrorInvalidTarget, fmt.Sprintf("unknown operation %q", t)}
	}
	defer func() {
		if v := recover(); v != nil {
			res, err = nil, fmt.Errorf("httpapi: %s panicked: %v", t, v)
		}
	}()
	h.log.Debug("management API", "target", t.String())
	return f(r.Context(), h.engine, p)
}

// parseTarget splits "Sora_YYYYMMDD.Operation".
func parseTarget(s string) (target, error) {
	bad := func(msg string) error {
		return &apiError{http.StatusBadRequest, ErrorInvalidTarget, msg}
	}
	if s == "" {
		return target{}, bad("missing x-sora-target header")
	}
	rest, ok := strings.CutPrefix(s, "Sora_")
	version, name, dot := strings.Cut(rest, ".")
	if !ok || !dot || len(version) != 8 || name == "" || strings.Trim(version, "0123456789") != "" {
		return target{}, bad(fmt.Sprintf("malformed x-sora-target %q: want Sora_YYYYMMDD.Operation", truncate(s, 100)))
	}
	return op(version, name), nil
}

// errRouted: the router answered the request.
var errRouted = errors.New("httpapi: routed")

// readBody reads the request object; an empty body means {}. It returns
// the body as read too, for a Router.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (*params, []byte, error) {
	var body []byte
	var err error
	if r.Body != nil { // nil when ServeHTTP is called directly
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBodySize))
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, nil, &apiError{http.StatusRequestEntityTooLarge, ErrorPayloadTooLarge,
				fmt.Sprintf("body larger than %d bytes", h.maxBodySize)}
		}
		return nil, nil, &apiError{http.StatusBadRequest, ErrorInvalidJSON, "could not read the body"}
	}
	body = bytes.TrimSpace(body)
	p := &params{raw: map[string]json.RawMessage{}}
	if len(body) == 0 {
		return p, body, nil
	}
	if body[0] != '{' {
		return nil, nil, &apiError{http.StatusBadRequest, ErrorInvalidJSON, "body must be a JSON object"}
	}
	if err := json.Unmarshal(body, &p.raw); err != nil || p.raw == nil {
		return nil, nil, &apiError{http.StatusBadRequest, ErrorInvalidJSON, "body is not valid JSON"}
	}
	return p, body, nil
}

func (h *handler) authorized(r *http.Request) bool { return BearerTokenValid(r, h.token) }

// BearerTokenValid reports whether r carries "Authorization: Bearer
// token" (compared in constant time); an empty token accepts every
// request. Handlers mounted beside the API (metrics) check it the same way.
func BearerTokenValid(r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(token)) == 1
}

func (h *handler) writeError(w http.ResponseWriter, e *apiError) {
	body, _ := json.Marshal(errorBody{ErrorType: e.errorType, Message: e.message})
	h.write(w, e.status, body)
}

func (h *handler) write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		h.log.Debug("management API: write answer", "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
