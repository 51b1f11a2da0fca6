package httpapi

import (
	"net/http"

	sfu "github.com/gosfu/sfu"
)

// HealthHandler answers 200 "ok" while the process serves HTTP: a
// liveness probe (GET /healthz).
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProbe(w, http.StatusOK, "ok\n")
	})
}

// ReadyHandler answers 200 "ready" while engine accepts connects and 503
// "draining" once Engine.Drain was called: a readiness probe (GET
// /readyz), so that a load balancer stops sending clients to a server
// that is going away.
func ReadyHandler(engine *sfu.Engine) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if engine.Draining() {
			writeProbe(w, http.StatusServiceUnavailable, "draining\n")
			return
		}
		writeProbe(w, http.StatusOK, "ready\n")
	})
}

func writeProbe(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
