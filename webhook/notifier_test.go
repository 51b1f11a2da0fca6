package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/stats"
	"github.com/gosfu/sfu/webhook"
)

// received is one webhook as the endpoint got it.
type received struct {
	path, header string // URL path; the sora-*-webhook-type header
	body         map[string]any
}

// hookServer records webhooks on /event and /session; fail decides, per
// call, to answer 503 instead of 200.
func hookServer(t *testing.T, fail func(n int) bool) (*httptest.Server, <-chan received) {
	t.Helper()
	got := make(chan received, 64)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		if fail != nil && fail(n) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("webhook body is not JSON: %q", raw)
		}
		header := r.Header.Get("sora-event-webhook-type") + r.Header.Get("sora-session-webhook-type")
		got <- received{path: r.URL.Path, header: header, body: body}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newNotifier(t *testing.T, cfg webhook.NotifierConfig) *webhook.Notifier {
	t.Helper()
	n := webhook.NewNotifier(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("notifier close: %v", err)
		}
	})
	return n
}

func next(t *testing.T, ctx context.Context, got <-chan received) received {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-ctx.Done():
		t.Fatal("no webhook arrived")
	}
	return received{}
}

func TestEventWebhooksInOrder(t *testing.T) {
	srv, got := hookServer(t, nil)
	n := newNotifier(t, webhook.NotifierConfig{EventURL: srv.URL + "/event", SessionURL: srv.URL + "/session",
		Client: srv.Client(), UpdateInterval: time.Hour})
	auth := func(ctx context.Context, req *sfu.ConnectRequest) (sfu.Decision, error) {
		return sfu.Decision{Allow: true, EventMetadata: json.RawMessage(`{"tenant":"t-` + req.ClientID + `"}`)}, nil
	}
	engine, url := sfutest.NewSignalingServer(t, sfu.Options{Authenticate: auth})
	engine.AddObserver(n)
	ctx := testContext(t, 20*time.Second)

	a, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "sendrecv", ClientID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sessCreated := next(t, ctx, got)
	aCreated := next(t, ctx, got)
	b, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "recvonly", ClientID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bCreated := next(t, ctx, got)
	if err := b.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	bDestroyed := next(t, ctx, got)
	engine.Channel("room").DisconnectConnection(ctx, a.ConnectionID())
	aDestroyed := next(t, ctx, got)
	sessDestroyed := next(t, ctx, got)

	sessionID, _ := sessCreated.body["session_id"].(string)
	for i, w := range []struct {
		r          received
		path, typ  string
		connection string
	}{
		{sessCreated, "/session", "session.created", ""},
		{aCreated, "/event", "connection.created", a.ConnectionID()},
		{bCreated, "/event", "connection.created", b.ConnectionID()},
		{bDestroyed, "/event", "connection.destroyed", b.ConnectionID()},
		{aDestroyed, "/event", "connection.destroyed", a.ConnectionID()},
		{sessDestroyed, "/session", "session.destroyed", ""},
	} {
		body := w.r.body
		if w.r.path != w.path || w.r.header != w.typ || body["type"] != w.typ || body["channel_id"] != "room" ||
			body["session_id"] != sessionID || sessionID == "" {
			t.Errorf("webhook %d: %s %s %v, want %s %s in session %s", i, w.r.path, w.r.header, body, w.path, w.typ, sessionID)
		}
		if id, _ := body["id"].(string); len(id) != 26 {
			t.Errorf("webhook %d: id %q", i, body["id"])
		}
		if ts, _ := body["timestamp"].(string); ts == "" {
			t.Errorf("webhook %d: no timestamp", i)
		}
		if w.connection != "" && body["connection_id"] != w.connection {
			t.Errorf("webhook %d: connection_id %v, want %s", i, body["connection_id"], w.connection)
		}
	}
	if em, _ := json.Marshal(aCreated.body["event_metadata"]); string(em) != `{"tenant":"t-a"}` {
		t.Errorf("connection.created event_metadata = %s", em)
	}
	if aCreated.body["role"] != "sendrecv" || aCreated.body["client_id"] != "a" || bCreated.body["role"] != "recvonly" {
		t.Errorf("roles/client ids: %v %v", aCreated.body, bCreated.body)
	}
	for _, c := range []struct {
		r      received
		code   float64
		reason string
	}{{bDestroyed, 1000, "NO-ERROR"}, {aDestroyed, 1000, "DISCONNECTED-API"}} {
		data, _ := c.r.body["data"].(map[string]any)
		if data["close_code"] != c.code || data["reason"] != c.reason {
			t.Errorf("connection.destroyed data %v, want %v %s", data, c.code, c.reason)
		}
		if d, ok := data["duration_msec"].(float64); !ok || d < 0 {
			t.Errorf("connection.destroyed duration_msec %v", data["duration_msec"])
		}
	}
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := n.Close(closeCtx); err != nil { // counts settle once the queue is sent
		t.Fatal(err)
	}
	r := engine.StatsReport()
	if r.TotalSuccessfulEventWebhook != 4 || r.TotalSuccessfulSessionWebhook != 2 ||
		r.TotalFailedEventWebhook+r.TotalIgnoredEventWebhook+r.TotalFailedSessionWebhook+r.TotalIgnoredSessionWebhook != 0 {
		t.Errorf("webhook counters %+v", r)
	}
}

func TestEventWebhookRetries(t *testing.T) {
	// Calls 1 and 2 fail; the third attempt of the first webhook gets
	// through. The second webhook then fails on both its attempts.
	srv, got := hookServer(t, func(n int) bool { return n <= 2 || n >= 4 })
	n := newNotifier(t, webhook.NotifierConfig{EventURL: srv.URL + "/event", Client: srv.Client(),
		Attempts: 3, Backoff: time.Millisecond, UpdateInterval: time.Hour})
	info := sfu.ConnectionInfo{ChannelID: "c", ConnectionID: "conn1", Role: sfu.RoleSendRecv, CreatedAt: time.Now()}
	n.Observe(sfu.LifecycleEvent{Kind: sfu.ConnectionCreated, Time: time.Now(), ChannelID: "c", Connection: info})
	ctx := testContext(t, 10*time.Second)
	r := next(t, ctx, got)
	if r.body["type"] != "connection.created" || r.body["connection_id"] != "conn1" {
		t.Errorf("delivered %v", r.body)
	}
	n.Observe(sfu.LifecycleEvent{Kind: sfu.ConnectionDestroyed, Time: time.Now(), ChannelID: "c", Connection: info,
		Connected: true, Reason: sfu.ReasonDisconnect})
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Close(closeCtx); err != nil { // sends what is queued first
		t.Fatal(err)
	}
	var s stats.Snapshot
	n.ContributeStats(&s)
	if s.EventWebhookSuccessful != 1 || s.EventWebhookFailed != 1 || s.EventWebhookIgnored != 0 {
		t.Errorf("successful %d failed %d ignored %d, want 1 1 0", s.EventWebhookSuccessful, s.EventWebhookFailed, s.EventWebhookIgnored)
	}
}

func TestConnectionUpdatedWhileConnected(t *testing.T) {
	srv, got := hookServer(t, nil)
	n := newNotifier(t, webhook.NotifierConfig{EventURL: srv.URL + "/event", Client: srv.Client(),
		UpdateInterval: 20 * time.Millisecond})
	engine, url := sfutest.NewSignalingServer(t, sfu.Options{})
	engine.AddObserver(n)
	ctx := testContext(t, 20*time.Second)
	a, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if r := next(t, ctx, got); r.body["type"] != "connection.created" {
		t.Fatalf("first webhook %v", r.body["type"])
	}
	r := next(t, ctx, got)
	if r.body["type"] != "connection.updated" || r.body["connection_id"] != a.ConnectionID() {
		t.Errorf("second webhook %v %v, want connection.updated", r.body["type"], r.body["connection_id"])
	}
}

func TestHangingEventEndpointDoesNotDelayConnects(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	n := newNotifier(t, webhook.NotifierConfig{EventURL: srv.URL, Client: srv.Client(), QueueSize: 1,
		Timeout: time.Hour, UpdateInterval: time.Hour})
	t.Cleanup(func() { close(release) }) // before the notifier closes
	engine, url := sfutest.NewSignalingServer(t, sfu.Options{})
	engine.AddObserver(n)
	ctx := testContext(t, 30*time.Second)

	// The endpoint never answers while the clients connect: the first
	// webhook is in flight, the second waits in the queue, the third is
	// dropped. Every connect completes all the same.
	for i := range 3 {
		c, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "recvonly"})
		if err != nil {
			t.Fatalf("connect %d with the event endpoint hanging: %v", i, err)
		}
		defer c.Close()
		// The engine observed the connection before it sent the
		// client its own connection.created.
		if _, err := c.WaitNotify(ctx, func(typ string, raw json.RawMessage) bool {
			return typ == "connection.created" && jsonField(raw, "connection_id") == `"`+c.ConnectionID()+`"`
		}); err != nil {
			t.Fatal(err)
		}
	}
	r := engine.StatsReport()
	if r.TotalIgnoredEventWebhook < 1 || r.TotalSuccessfulEventWebhook != 0 {
		t.Errorf("ignored %d successful %d, want >= 1 and 0", r.TotalIgnoredEventWebhook, r.TotalSuccessfulEventWebhook)
	}
	if calls.Load() > 1 {
		t.Errorf("%d calls reached the hanging endpoint, want at most 1", calls.Load())
	}
}
