package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newServer(t *testing.T, o sfu.Options, hopts ...signaling.Option) string {
	t.Helper()
	_, url := sfutest.NewSignalingServer(t, o, hopts...)
	return url
}

// rawDial opens a plain WebSocket, for input no real client sends.
func rawDial(t *testing.T, ctx context.Context, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

// readUntilClose reads messages until the server closes, returning the
// messages' types and the close status.
func readUntilClose(t *testing.T, ctx context.Context, ws *websocket.Conn) ([]map[string]any, websocket.CloseError) {
	t.Helper()
	var msgs []map[string]any
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("read ended without a close frame: %v", err)
			}
			return msgs, ce
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("server sent non-JSON %q", data)
		}
		msgs = append(msgs, m)
	}
}

const connectOK = `{"type":"connect","role":"recvonly","channel_id":"c"}`

func TestBadInputClosesWith4490(t *testing.T) {
	url := newServer(t, sfu.Options{}, signaling.WithMaxMessageSize(4096))
	big := `{"type":"connect","role":"recvonly","channel_id":"c","x":"` + strings.Repeat("a", 5000) + `"}`
	tests := []struct {
		name   string
		frame  string
		binary bool
		reason string
	}{
		{"missing channel_id", `{"type":"connect","role":"sendrecv"}`, false, "MISSING-CHANNEL-ID"},
		{"empty channel_id", `{"type":"connect","role":"sendrecv","channel_id":""}`, false, "MISSING-CHANNEL-ID"},
		{"channel_id not a string", `{"type":"connect","role":"sendrecv","channel_id":7}`, false, "INVALID-CHANNEL-ID"},
		{"missing role", `{"type":"connect","channel_id":"c"}`, false, "MISSING-ROLE"},
		{"invalid role", `{"type":"connect","role":"publisher","channel_id":"c"}`, false, "INVALID-ROLE"},
		{"unknown video codec", `{"type":"connect","role":"sendonly","channel_id":"c","video":{"codec_type":"H265"}}`, false, "INVALID-VIDEO-CODEC-TYPE"},
		{"sends nothing", `{"type":"connect","role":"sendonly","channel_id":"c","audio":false,"video":false}`, false, "INVALID-ROLE"},
		{"non-JSON", `hello`, false, signaling.ReasonInvalidJSON},
		{"JSON array", `[1,2]`, false, signaling.ReasonInvalidJSON},
		{"binary frame", connectOK, true, signaling.ReasonBinaryMessage},
		{"frame over the size limit", big, false, signaling.ReasonMessageTooLarge},
		{"answer before offer", `{"type":"answer","sdp":"v=0\r\n"}`, false, signaling.ReasonConnectExpected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws := rawDial(t, ctx, url)
			typ := websocket.MessageText
			if tt.binary {
				typ = websocket.MessageBinary
			}
			if err := ws.Write(ctx, typ, []byte(tt.frame)); err != nil {
				t.Fatal(err)
			}
			msgs, ce := readUntilClose(t, ctx, ws)
			if ce.Code != signaling.CloseCodeError || ce.Reason != tt.reason {
				t.Errorf("closed with %d %q, want 4490 %q", ce.Code, ce.Reason, tt.reason)
			}
			if len(msgs) != 0 {
				t.Errorf("server sent %d messages before closing, want none", len(msgs))
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		opts    sfu.Options
		hopts   []signaling.Option
		connect bool
		reason  string
	}{
		{"no connect message", sfu.Options{}, []signaling.Option{signaling.WithConnectTimeout(100 * time.Millisecond)}, false, signaling.ReasonConnectTimeout},
		{"answer never sent", sfu.Options{SetupTimeout: 200 * time.Millisecond}, nil, true, sfu.ReasonSetupTimeout.Reason},
		{"no pong for 3 intervals", sfu.Options{PingInterval: 50 * time.Millisecond}, nil, true, sfu.ReasonPongTimeout.Reason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := newServer(t, tt.opts, tt.hopts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws := rawDial(t, ctx, url)
			if tt.connect {
				if err := ws.Write(ctx, websocket.MessageText, []byte(connectOK)); err != nil {
					t.Fatal(err)
				}
			}
			msgs, ce := readUntilClose(t, ctx, ws)
			if ce.Code != signaling.CloseCodeError || ce.Reason != tt.reason {
				t.Errorf("closed with %d %q, want 4490 %q", ce.Code, ce.Reason, tt.reason)
			}
			if tt.reason == sfu.ReasonPongTimeout.Reason {
				if len(msgs) < 2 || msgs[0]["type"] != "offer" || msgs[1]["type"] != "ping" || msgs[1]["stats"] != true {
					t.Errorf("messages before the close = %v, want offer then ping with stats: true", msgs)
				}
			}
		})
	}
}

// TestFirstPingAfterAnInterval: pings fall due on multiples of the ping
// interval for all connections, but a new connection's first one waits a
// whole interval: its client has no stats to report before that.
func TestFirstPingAfterAnInterval(t *testing.T) {
	const interval = 300 * time.Millisecond
	url := newServer(t, sfu.Options{PingInterval: interval})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := rawDial(t, ctx, url)
	start := time.Now() // before the connection exists
	if err := ws.Write(ctx, websocket.MessageText, []byte(connectOK)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offer", "ping"} {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Type string }
		if err := json.Unmarshal(data, &m); err != nil || m.Type != want {
			t.Fatalf("got %s, want a %s", data, want)
		}
	}
	if d := time.Since(start); d < interval {
		t.Errorf("first ping %v after connect, want at least the interval %v", d, interval)
	}
	ws.CloseNow()
}

func TestOfferMessage(t *testing.T) {
	url := newServer(t, sfu.Options{ICEServers: []sfu.ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := rawDial(t, ctx, url)
	connect := `{"type":"connect","role":"sendrecv","channel_id":"c","client_id":"me","multistream":true,"unknown":1}`
	if err := ws.Write(ctx, websocket.MessageText, []byte(connect)); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var offer struct {
		Type         string            `json:"type"`
		SDP          string            `json:"sdp"`
		ConnectionID string            `json:"connection_id"`
		ClientID     string            `json:"client_id"`
		BundleID     string            `json:"bundle_id"`
		ChannelID    string            `json:"channel_id"`
		Mid          map[string]string `json:"mid"`
		Config       struct {
			ICEServers []struct {
				URLs []string `json:"urls"`
			} `json:"iceServers"`
		} `json:"config"`
	}
	if err := json.Unmarshal(data, &offer); err != nil {
		t.Fatal(err)
	}
	if offer.Type != "offer" || len(offer.ConnectionID) != 26 || offer.ClientID != "me" ||
		offer.BundleID != offer.ConnectionID || offer.ChannelID != "c" {
		t.Errorf("offer ids = %+v", offer)
	}
	if offer.Mid["audio"] != "0" || offer.Mid["video"] != "1" {
		t.Errorf("mid = %v, want the client's own m-lines first: audio 0, video 1", offer.Mid)
	}
	if len(offer.Config.ICEServers) != 1 || offer.Config.ICEServers[0].URLs[0] != "stun:127.0.0.1:3478" {
		t.Errorf("config = %+v, want the configured ICE server", offer.Config)
	}
	for _, want := range []string{"a=candidate:", "127.0.0.1", "a=end-of-candidates", "a=recvonly", "VP9/90000", "opus/48000"} {
		if !strings.Contains(offer.SDP, want) {
			t.Errorf("offer SDP lacks %q", want)
		}
	}
}

func TestUnexpectedAnswerAfterSetup(t *testing.T) {
	url := newServer(t, sfu.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "c", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(ctx, map[string]string{"type": "re-answer", "sdp": c.LocalSDP()}); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if ce := c.CloseError(); ce == nil || ce.Code != signaling.CloseCodeError || ce.Reason != signaling.ReasonUnexpectedAnswer {
		t.Errorf("closed with %v, want 4490 %s", ce, signaling.ReasonUnexpectedAnswer)
	}
}

// TestDisconnectClosesNormally: on "disconnect" the server itself closes
// the WebSocket with 1000 (the client waits for that close, within the
// context's deadline).
func TestDisconnectClosesNormally(t *testing.T) {
	url := newServer(t, sfu.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "c", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if ce := c.CloseError(); ce == nil || ce.Code != 1000 {
		t.Errorf("closed with %v, want 1000", ce)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	url := newServer(t, sfu.Options{Authenticate: func(ctx context.Context, req *sfu.ConnectRequest) (sfu.Decision, error) {
		if string(req.Metadata) != `{"access_token":"secret"}` {
			return sfu.Decision{Reason: "BAD-TOKEN"}, nil
		}
		return sfu.Decision{Allow: true}, nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "c", Role: "recvonly", Metadata: map[string]string{"access_token": "wrong"}})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != signaling.CloseCodeError || ce.Reason != "BAD-TOKEN" {
		t.Fatalf("dial with a bad token: %v, want close 4490 BAD-TOKEN", err)
	}
	c, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "c", Role: "recvonly", Metadata: map[string]string{"access_token": "secret"}})
	if err != nil {
		t.Fatalf("dial with the right token: %v", err)
	}
	c.Close()
}
