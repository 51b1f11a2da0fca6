package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is an engine with the signaling handler at /signaling and the
// management API mounted under /api/, on 127.0.0.1.
type env struct {
	engine *sfu.Engine
	srv    *httptest.Server
	sigURL string // ws://.../signaling
	apiURL string // http://.../api/
}

func newEnv(t *testing.T, o sfu.Options, opts ...httpapi.Option) *env {
	t.Helper()
	engine := sfutest.NewEngine(t, o)
	mux := http.NewServeMux()
	mux.Handle("/signaling", signaling.NewHandler(engine))
	mux.Handle("/api/", http.StripPrefix("/api", httpapi.NewHandler(engine, opts...)))
	srv := httptest.NewServer(mux)
	e := &env{engine: engine, srv: srv,
		sigURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/signaling", apiURL: srv.URL + "/api/"}
	t.Cleanup(srv.Close)
	return e
}

// answer is one API answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with exactly these headers (names as given) and body.
func (e *env) do(t *testing.T, method string, headers map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.apiURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header[k] = []string{v} // not canonicalized: sent as written
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// call POSTs body with the x-sora-target header as the seed's examples do
// (Content-Type application/json when there is a body, none otherwise).
func (e *env) call(t *testing.T, target, body string) answer {
	t.Helper()
	h := map[string]string{"x-sora-target": target, "Accept": "application/json, */*"}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	return e.do(t, http.MethodPost, h, body)
}

// echo calls target with body and checks that the answer is 200 and
// echoes body, as most operations do.
func (e *env) echo(t *testing.T, target, body string) {
	t.Helper()
	a := e.call(t, target, body)
	a.ok(t, nil)
	jsonEqual(t, a.body, body)
}

// ok checks a 200 JSON answer and decodes it into v.
func (a answer) ok(t *testing.T, v any) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, body %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	if v != nil {
		if err := json.Unmarshal(a.body, v); err != nil {
			t.Fatalf("decode %s: %v", a.body, err)
		}
	}
}

// fails checks an error answer.
func (a answer) fails(t *testing.T, status int, errorType string) string {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	var e struct {
		ErrorType string `json:"error_type"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	if e.ErrorType != errorType || e.Message == "" {
		t.Fatalf("error %+v, want %s with a message", e, errorType)
	}
	return e.Message
}

// jsonEqual compares JSON documents by value.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("answer %s\nwant   %s", gb, wb)
	}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) dial(t *testing.T, ctx context.Context, cfg client.Config) *client.Client {
	t.Helper()
	cfg.URL = e.sigURL
	return sfutest.Dial(t, ctx, cfg)
}

// publisher writes VP8 and Opus packets until stopped.
type publisher struct {
	video, audio *webrtc.TrackLocalStaticRTP
	stop         chan struct{}
	wg           sync.WaitGroup
}

func newPublisher(t *testing.T) *publisher {
	t.Helper()
	v, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	a, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "s")
	if err != nil {
		t.Fatal(err)
	}
	return &publisher{video: v, audio: a, stop: make(chan struct{})}
}

func (p *publisher) tracks() []webrtc.TrackLocal { return []webrtc.TrackLocal{p.audio, p.video} }

func (p *publisher) start(t *testing.T) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for n := uint16(0); ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			// 0x10 then 0x00...: the first packet of a VP8 key frame.
			_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: n, Timestamp: uint32(n) * 3000, Marker: true},
				Payload: append([]byte{0x10, 0x00, 0x9d, 0x01, 0x2a}, make([]byte, 200)...)})
			_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: n, Timestamp: uint32(n) * 960},
				Payload: make([]byte, 60)})
		}
	}()
	t.Cleanup(p.halt)
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// dialReady dials and waits until the engine too sees the connection as
// connected (the client gets its own connection.created), so that pushes
// and notifies reach it.
func (e *env) dialReady(t *testing.T, ctx context.Context, cfg client.Config) *client.Client {
	t.Helper()
	c := e.dial(t, ctx, cfg)
	if _, err := c.WaitNotify(ctx, func(typ string, raw json.RawMessage) bool {
		return typ == "connection.created" && strings.Contains(string(raw), c.ConnectionID())
	}); err != nil {
		t.Fatalf("no connection.created of its own: %v", err)
	}
	return c
}
