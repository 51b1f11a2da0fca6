package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/metrics"
)

// newLogger logs to w as text or JSON (one object per line).
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// drainEngine refuses new connects and waits up to c.drainTimeout for the
// connections to end (or until c.stopNow), then closes the rest with 1001.
func drainEngine(engine *sfu.Engine, c config, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), c.drainTimeout)
	defer cancel()
	if c.stopNow != nil {
		go func() {
			select {
			case <-c.stopNow:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	log.Info("draining", "timeout", c.drainTimeout.String())
	if err := engine.Drain(ctx); err != nil {
		log.Info("drain cut short: remaining connections closed", "err", err)
	}
}

// apiMux serves the management API with the probes and metrics beside
// it: GET /healthz, GET /readyz and GET /metrics (the last behind the
// bearer token when one is set).
func apiMux(c config, engine *sfu.Engine, m *metrics.Metrics, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", httpapi.HealthHandler())
	mux.Handle("GET /readyz", httpapi.ReadyHandler(engine))
	mux.Handle("GET /metrics", requireToken(c.apiToken, m.Handler()))
	mux.Handle("/", api)
	return mux
}

// requireToken answers 401 unless the request carries "Authorization:
// Bearer <token>"; an empty token lets everything through.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !httpapi.BearerTokenValid(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gosfu"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
