package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// authServer is an auth webhook endpoint: answer writes the answer to
// each call; the calls' bodies arrive on calls.
type authServer struct {
	*httptest.Server
	calls chan map[string]any
}

func newAuthServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body map[string]any)) *authServer {
	t.Helper()
	s := &authServer{calls: make(chan map[string]any, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("auth webhook body is not JSON: %q", raw)
		}
		s.calls <- body
		answer(w, r, body)
	}))
	t.Cleanup(s.Close)
	return s
}

// newAuthEngine serves signaling for an engine whose Authenticate is the
// auth webhook at srv.
func newAuthEngine(t *testing.T, srv *authServer, opts ...webhook.AuthOption) (*sfu.Engine, string) {
	auth := webhook.NewAuthenticator(srv.URL, append([]webhook.AuthOption{webhook.WithAuthClient(srv.Client())}, opts...)...)
	return sfutest.NewSignalingServer(t, sfu.Options{Authenticate: auth.Authenticate})
}

func TestAuthWebhookAllowedWithMetadata(t *testing.T) {
	srv := newAuthServer(t, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		md, _ := body["metadata"].(map[string]any)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"allowed":        true,
			"authz_metadata": map[string]any{"user": md["user"], "plan": "gold"},
			"event_metadata": map[string]any{"tenant": 7},
		})
	})
	engine, url := newAuthEngine(t, srv)
	ctx := testContext(t, 20*time.Second)

	a, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "sendrecv", ClientID: "alice",
		Metadata: map[string]string{"user": "alice", "token": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	call := <-srv.calls
	for key, want := range map[string]any{
		"channel_id": "room", "client_id": "alice", "role": "sendrecv", "connection_id": a.ConnectionID(),
		"simulcast": false, "spotlight": false, "multistream": true, "audio": true, "video": map[string]any{"codec_type": "VP9"},
	} {
		if got, _ := json.Marshal(call[key]); string(got) != mustJSON(t, want) {
			t.Errorf("auth webhook %s = %s, want %s", key, got, mustJSON(t, want))
		}
	}
	if got := mustJSON(t, call["metadata"]); got != `{"token":"t1","user":"alice"}` {
		t.Errorf("auth webhook metadata = %s", got)
	}
	if sc, _ := call["sora_client"].(map[string]any); sc["raw"] != client.SoraClient {
		t.Errorf("auth webhook sora_client = %v", call["sora_client"])
	}
	if addr, _ := call["remote_addr"].(string); addr == "" {
		t.Error("auth webhook has no remote_addr")
	}
	if got := string(a.Offer().Metadata); got != `{"plan":"gold","user":"alice"}` {
		t.Errorf("offer metadata = %s", got)
	}

	b, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "recvonly", ClientID: "bob",
		Metadata: map[string]string{"user": "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	<-srv.calls
	// Alice is told of Bob with his authz metadata; Bob's own
	// connection.created lists Alice with hers.
	raw, err := a.WaitNotify(ctx, func(typ string, raw json.RawMessage) bool {
		return typ == "connection.created" && jsonField(raw, "connection_id") == `"`+b.ConnectionID()+`"`
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonField(raw, "authz_metadata"); got != `{"plan":"gold","user":"bob"}` {
		t.Errorf("notify authz_metadata = %s", got)
	}
	raw, err = b.WaitNotify(ctx, func(typ string, raw json.RawMessage) bool {
		return typ == "connection.created" && jsonField(raw, "connection_id") == `"`+b.ConnectionID()+`"`
	})
	if err != nil {
		t.Fatal(err)
	}
	var self struct {
		Data []struct {
			ConnectionID  string          `json:"connection_id"`
			AuthzMetadata json.RawMessage `json:"authz_metadata"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &self); err != nil || len(self.Data) != 1 || self.Data[0].ConnectionID != a.ConnectionID() ||
		string(self.Data[0].AuthzMetadata) != `{"plan":"gold","user":"alice"}` {
		t.Errorf("own connection.created data = %s", jsonField(raw, "data"))
	}

	r := engine.StatsReport()
	if r.TotalAuthWebhookAllowed != 2 || r.TotalSuccessfulAuthWebhook != 2 || r.TotalAuthWebhookDenied != 0 || r.TotalFailedAuthWebhook != 0 {
		t.Errorf("auth counters: allowed %d denied %d successful %d failed %d", r.TotalAuthWebhookAllowed,
			r.TotalAuthWebhookDenied, r.TotalSuccessfulAuthWebhook, r.TotalFailedAuthWebhook)
	}
}

func TestAuthWebhookRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request)
		reason string
		denied bool // counted as denied (a valid answer), else as failed
	}{
		{"denied with reason", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"allowed": false, "reason": "NOT-ON-THE-LIST"}`)
		}, "NOT-ON-THE-LIST", true},
		{"denied without reason", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"allowed": false}`)
		}, webhook.ReasonAuthDenied, true},
		{"status 500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"allowed": true}`, http.StatusInternalServerError)
		}, webhook.ReasonAuthError, false},
		{"garbage body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `<html>allowed</html>`)
		}, webhook.ReasonAuthInvalidResponse, false},
		{"no allowed key", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"authz_metadata": {}}`)
		}, webhook.ReasonAuthInvalidResponse, false},
		{"allowed not a boolean", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"allowed": "yes"}`)
		}, webhook.ReasonAuthInvalidResponse, false},
		{"authz metadata over the engine's limit", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"allowed": true, "authz_metadata": "`+strings.Repeat("x", sfu.DefaultMaxMetadataSize)+`"}`)
		}, "AUTH-ERROR", false},
		{"no answer in time", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // the engine gives up and hangs up
		}, webhook.ReasonAuthTimeout, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAuthServer(t, func(w http.ResponseWriter, r *http.Request, _ map[string]any) { tc.answer(w, r) })
			engine, url := newAuthEngine(t, srv, webhook.WithAuthTimeout(300*time.Millisecond))
			ctx := testContext(t, 20*time.Second)
			c, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "recvonly"})
			if err == nil {
				c.Close()
				t.Fatal("connect accepted")
			}
			var ce *client.CloseError
			if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != tc.reason {
				t.Fatalf("connect refused with %v, want 4490 %s", err, tc.reason)
			}
			r := engine.StatsReport()
			wantDenied, wantFailed := int64(0), int64(1)
			if tc.denied {
				wantDenied, wantFailed = 1, 0
			}
			if r.TotalAuthWebhookDenied != wantDenied || r.TotalSuccessfulAuthWebhook != wantDenied ||
				r.TotalFailedAuthWebhook != wantFailed || r.TotalAuthWebhookAllowed != 0 {
				t.Errorf("auth counters: allowed %d denied %d successful %d failed %d", r.TotalAuthWebhookAllowed,
					r.TotalAuthWebhookDenied, r.TotalSuccessfulAuthWebhook, r.TotalFailedAuthWebhook)
			}
			if n := len(engine.Channels()); n != 0 {
				t.Errorf("%d channels after a refused connect", n)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonField returns the raw JSON of key in the object raw ("" if absent).
func jsonField(raw json.RawMessage, key string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	return string(m[key])
}
