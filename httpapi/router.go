package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// Router lets a cluster serve an operation on another node. The handler
// asks it about every request that passed authorization and the size
// and target checks, before running the operation here.
type Router interface {
	// RouteAPI returns the answer to send unchanged and true, or false to
	// run the operation on this node. An error (the node that should
	// answer is unreachable) is answered 503 NODE-UNAVAILABLE.
	RouteAPI(ctx context.Context, req RoutedRequest) (RoutedAnswer, bool, error)
}

// RoutedRequest is one management API call as a Router sees it.
type RoutedRequest struct {
	// Target is the x-sora-target header, e.g. "Sora_20201013.ListChannels".
	Target string
	// Name is the operation's name without its version ("ListChannels").
	Name string
	// ChannelID is the body's channel_id, "" when absent.
	ChannelID string
	// Body is the request body as received (at most the handler's limit).
	Body []byte
	// Header holds the request's headers (read only).
	Header http.Header
}

// RoutedAnswer is what the node that served a call answered.
type RoutedAnswer struct {
	Status int
	Body   []byte
}

// ErrorNodeUnavailable is the error type of a call whose owning node did
// not answer.
const ErrorNodeUnavailable = "NODE-UNAVAILABLE"

// WithRouter makes the handler ask r where each operation is served.
// Operations r answers need not be registered here (a cluster adds
// ListClusterNodes).
func WithRouter(r Router) Option { return func(h *handler) { h.router = r } }

// route asks the router; it reports whether the request was answered.
func (h *handler) route(w http.ResponseWriter, r *http.Request, t target, p *params, body []byte) bool {
	req := RoutedRequest{Target: t.String(), Name: t.name, Body: body, Header: r.Header}
	if v, ok := p.raw["channel_id"]; ok {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			req.ChannelID = s
		}
	}
	ans, ok, err := h.router.RouteAPI(r.Context(), req)
	if err != nil {
		h.log.Warn("management API: routing", "target", req.Target, "channel_id", req.ChannelID, "err", err)
		msg := "the node serving this call did not answer"
		if errors.Is(err, context.Canceled) {
			msg = "request cancelled"
		}
		h.writeError(w, &apiError{http.StatusServiceUnavailable, ErrorNodeUnavailable, msg})
		return true
	}
	if !ok {
		return false
	}
	h.write(w, ans.Status, ans.Body)
	return true
}
