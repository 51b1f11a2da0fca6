package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// opsServer runs serve with the management API on and returns the
// signaling and API addresses; the server stops when the test ends.
type opsServer struct {
	sig, api string
	cancel   context.CancelFunc // starts the drain, as SIGTERM does
	stopNow  chan struct{}      // cuts it short, as a second signal does
	done     chan error
	once     sync.Once
	err      error
}

// stop signals twice (drain, then at once) and returns serve's result.
func (s *opsServer) stop() error {
	s.once.Do(func() {
		s.cancel()
		close(s.stopNow)
		s.err = <-s.done
	})
	return s.err
}

func startOpsServer(t *testing.T, log *slog.Logger, args ...string) *opsServer {
	t.Helper()
	c, err := parseFlags(append([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--interface", "lo",
		"--api-listen", "127.0.0.1:0"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &opsServer{cancel: cancel, stopNow: make(chan struct{}), done: make(chan error, 1)}
	c.stopNow = s.stopNow
	ready, apiReady := make(chan net.Addr, 1), make(chan net.Addr, 1)
	c.apiReady = apiReady
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	go func() { s.done <- serve(ctx, c, log, ready) }()
	var sigAddr, apiAddr net.Addr
	for sigAddr == nil || apiAddr == nil {
		select {
		case sigAddr = <-ready:
		case apiAddr = <-apiReady:
		case err := <-s.done:
			t.Fatalf("serve: %v", err)
		}
	}
	s.sig, s.api = sigAddr.String(), apiAddr.String()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProbesAndMetricsServed(t *testing.T) {
	s := startOpsServer(t, nil, "--api-token", "t0ken", "--drain-timeout", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, client.Config{URL: "ws://" + s.sig + "/signaling", ChannelID: "sora", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	if code, body := get(t, "http://"+s.api+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, "http://"+s.api+"/readyz", ""); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, _ := get(t, "http://"+s.api+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", code)
	}
	code, body := get(t, "http://"+s.api+"/metrics", "t0ken")
	if code != 200 || !strings.Contains(body, `sfu_connections{role="recvonly"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
}

// TestDrainOnSignal: after SIGTERM (ctx canceled) /readyz turns 503, a
// new connect is refused with a reason to retry, the existing client
// stays until the drain is cut short, then sees 1001.
func TestDrainOnSignal(t *testing.T) {
	s := startOpsServer(t, nil, "--drain-timeout", "1h")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws://" + s.sig + "/signaling"
	cl, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "sora", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	s.cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if code, body := get(t, "http://"+s.api+"/readyz", ""); code == http.StatusServiceUnavailable && body == "draining\n" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("/readyz never reported draining")
		case <-tick.C:
		}
	}
	if code, _ := get(t, "http://"+s.api+"/healthz", ""); code != 200 {
		t.Errorf("/healthz while draining: %d", code)
	}
	_, err = client.Dial(ctx, client.Config{URL: url, ChannelID: "sora", Role: "recvonly"})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != sfu.ReasonDraining {
		t.Fatalf("connect while draining: %v, want 4490 %s", err, sfu.ReasonDraining)
	}
	select {
	case <-cl.Done():
		t.Fatalf("existing client closed while draining: %v", cl.CloseError())
	default:
	}

	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	<-cl.Done()
	if ce := cl.CloseError(); ce == nil || ce.Code != 1001 {
		t.Errorf("existing client closed with %v, want 1001", ce)
	}
}

// TestAuthWebhookFlag: --auth-webhook-url makes every connect ask the
// webhook; its denial reason reaches the client.
func TestAuthWebhookFlag(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ClientID string `json:"client_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.ClientID == "mallory" {
			_, _ = io.WriteString(w, `{"allowed": false, "reason": "GO-AWAY"}`)
			return
		}
		_, _ = io.WriteString(w, `{"allowed": true, "authz_metadata": {"ok": 1}}`)
	}))
	defer hook.Close()
	s := startOpsServer(t, nil, "--auth-webhook-url", hook.URL, "--auth-webhook-timeout", "2s", "--drain-timeout", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws://" + s.sig + "/signaling"
	_, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "sora", Role: "recvonly", ClientID: "mallory"})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != "GO-AWAY" {
		t.Fatalf("denied connect: %v", err)
	}
	cl, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "sora", Role: "recvonly", ClientID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := string(cl.Offer().Metadata); got != `{"ok":1}` {
		t.Errorf("offer metadata %s", got)
	}
}

// TestJSONLogsCarryIDs: with --log-format json every line about a
// connection names its channel and connection.
func TestJSONLogsCarryIDs(t *testing.T) {
	var buf syncBuffer
	log, err := newLogger(&buf, "json", slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	s := startOpsServer(t, log, "--drain-timeout", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, client.Config{URL: "ws://" + s.sig + "/signaling", ChannelID: "logs", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	id := cl.ConnectionID()
	if err := cl.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	var about int
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if !strings.Contains(sc.Text(), id) && !strings.HasPrefix(line["msg"].(string), "connection ") {
			continue
		}
		about++
		if line["channel_id"] != "logs" || line["connection_id"] != id {
			t.Errorf("log line about the connection without its ids: %s", sc.Text())
		}
	}
	if about < 2 { // accepted and closed, at least
		t.Errorf("%d log lines about the connection", about)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
