package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// redirector answers every connect with a redirect to itself and records
// the connects' "redirect" flags.
type redirector struct {
	url   string
	mu    sync.Mutex
	flags []bool
}

func (r *redirector) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ws, err := websocket.Accept(w, req, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	_, data, err := ws.Read(req.Context())
	if err != nil {
		return
	}
	var m struct {
		Redirect bool `json:"redirect"`
	}
	_ = json.Unmarshal(data, &m)
	r.mu.Lock()
	r.flags = append(r.flags, m.Redirect)
	r.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"type": "redirect", "location": r.url})
	_ = ws.Write(req.Context(), websocket.MessageText, b)
	_, _, _ = ws.Read(req.Context()) // until the client closes
}

func TestDialFollowsRedirectsUpToTheLimit(t *testing.T) {
	r := &redirector{}
	srv := httptest.NewServer(r)
	defer srv.Close()
	r.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := Dial(ctx, Config{URL: r.url, ChannelID: "c", Role: RoleRecvonly})
	var re *RedirectError
	if !errors.As(err, &re) || re.Location != r.url {
		t.Fatalf("Dial: %v, want a *RedirectError to %s", err, r.url)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// The first connect plus the default three redirects followed, each
	// re-sent connect with "redirect": true.
	want := []bool{false, true, true, true}
	if len(r.flags) != len(want) {
		t.Fatalf("%d connects, want %d: %v", len(r.flags), len(want), r.flags)
	}
	for i := range want {
		if r.flags[i] != want[i] {
			t.Fatalf("redirect flags %v, want %v", r.flags, want)
		}
	}
}
