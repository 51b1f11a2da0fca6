package signaling

import (
	"context"
	"time"

	sfu "github.com/gosfu/sfu"
)

// Router decides, in a cluster, where a connect is served. The handler
// asks it about every valid connect before the engine sees it.
type Router interface {
	// Route returns a non-empty location (a signaling URL) to send the
	// client there with Sora's redirect message, or "" to serve the
	// connect here. An error refuses the connect (close code 4490 with
	// the error's reason). When Route returns no error, the handler calls
	// done once the engine's Connect returned, whatever its outcome.
	Route(ctx context.Context, req sfu.ConnectRequest) (location string, done func(), err error)
}

// WithRouter makes the handler ask r where each connect is served.
func WithRouter(r Router) Option { return func(h *Handler) { h.router = r } }

// redirectMessage is Sora's redirect: the client closes this WebSocket,
// opens location and sends its connect again with "redirect": true.
type redirectMessage struct {
	Type     string `json:"type"`
	Location string `json:"location"`
}

// redirect sends the client to location and waits (bounded) for it to
// close the WebSocket, which sora-js-sdk does on reading the message.
func (s *session) redirect(location string) {
	if err := s.write(redirectMessage{Type: "redirect", Location: location}); err != nil {
		s.ws.CloseNow()
		return
	}
	timer := time.NewTimer(s.h.connectTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-s.in:
			if m.err == nil {
				continue // nothing is served here any more
			}
			s.ws.CloseNow()
			return
		case <-timer.C:
			s.closeWith(1000, "")
			return
		}
	}
}
