package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/httpapi"
)

// fakeRouter answers channel "remote" and the unregistered ListThings
// itself, fails channel "down", and leaves the rest to the handler.
type fakeRouter struct {
	mu   sync.Mutex
	seen []httpapi.RoutedRequest
}

func (r *fakeRouter) RouteAPI(ctx context.Context, req httpapi.RoutedRequest) (httpapi.RoutedAnswer, bool, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req)
	r.mu.Unlock()
	switch {
	case req.Name == "ListThings":
		return httpapi.RoutedAnswer{Status: http.StatusOK, Body: []byte(`["thing"]`)}, true, nil
	case req.ChannelID == "remote":
		return httpapi.RoutedAnswer{Status: http.StatusNotFound, Body: []byte(`{"error_type":"CONNECTION-NOT-FOUND","message":"from the owner"}`)}, true, nil
	case req.ChannelID == "down":
		return httpapi.RoutedAnswer{}, false, errors.New("owner gone")
	}
	return httpapi.RoutedAnswer{}, false, nil
}

func TestRouterAnswersUnchanged(t *testing.T) {
	r := &fakeRouter{}
	e := newEnv(t, sfu.Options{}, httpapi.WithRouter(r), httpapi.WithBearerToken("secret"))
	auth := func(target, body string) answer {
		return e.do(t, http.MethodPost, map[string]string{"x-sora-target": target, "Authorization": "Bearer secret"}, body)
	}

	// Authorization comes first: the router never sees a refused call.
	e.call(t, "Sora_20201013.ListChannels", "").fails(t, http.StatusUnauthorized, httpapi.ErrorUnauthorized)
	if len(r.seen) != 0 {
		t.Fatalf("router saw %d unauthorized calls", len(r.seen))
	}

	a := auth("Sora_20151104.DisconnectConnection", `{"channel_id":"remote","connection_id":"x"}`)
	a.fails(t, http.StatusNotFound, httpapi.ErrorConnectionNotFound)
	jsonEqual(t, a.body, `{"error_type":"CONNECTION-NOT-FOUND","message":"from the owner"}`)
	if got := r.seen[len(r.seen)-1]; got.ChannelID != "remote" || got.Name != "DisconnectConnection" || got.Target != "Sora_20151104.DisconnectConnection" {
		t.Errorf("router saw %+v", got)
	}

	auth("Sora_20211215.ListThings", "").ok(t, nil)
	auth("Sora_20151104.DisconnectConnection", `{"channel_id":"down","connection_id":"x"}`).
		fails(t, http.StatusServiceUnavailable, httpapi.ErrorNodeUnavailable)
	// Not routed: served here as without a router.
	auth("Sora_20151104.DisconnectConnection", `{"channel_id":"here","connection_id":"x"}`).
		fails(t, http.StatusNotFound, httpapi.ErrorChannelNotFound)
	auth("Sora_20211215.NoSuchThing", "").fails(t, http.StatusBadRequest, httpapi.ErrorInvalidTarget)
}
