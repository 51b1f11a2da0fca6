package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosfu/sfu/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startServer(t *testing.T, ctx context.Context) (addr string, done <-chan error) {
	t.Helper()
	c, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--interface", "lo", "--api-listen", "", "--drain-timeout", "0"})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { errc <- serve(ctx, c, log, ready) }()
	select {
	case a := <-ready:
		return a.String(), errc
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	}
	return "", nil
}

func TestShutdownClosesClients(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServer(t, ctx)

	dialCtx, dialCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dialCancel()
	cl, err := client.Dial(dialCtx, client.Config{URL: "ws://" + addr + "/signaling", ChannelID: "c", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not shut down")
	}
	<-cl.Done()
	if ce := cl.CloseError(); ce == nil || ce.Code != 1001 {
		t.Errorf("client saw close %v, want 1001", ce)
	}
}

func TestDemoPageServed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := startServer(t, ctx)
	defer func() { cancel(); <-done }()

	for _, path := range []string{"/", "/app.js"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		if path == "/" && !strings.Contains(string(body), "app.js") {
			t.Errorf("index page does not load app.js")
		}
	}
}

func TestManagementAPIServed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--interface", "lo",
		"--api-listen", "127.0.0.1:0", "--api-token", "t0ken", "--api-cors-origin", "http://127.0.0.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	ready, apiReady := make(chan net.Addr, 1), make(chan net.Addr, 1)
	c.apiReady = apiReady
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var sigAddr, apiAddr net.Addr
	for sigAddr == nil || apiAddr == nil {
		select {
		case sigAddr = <-ready:
		case apiAddr = <-apiReady:
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}
	}

	dialCtx, dialCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dialCancel()
	cl, err := client.Dial(dialCtx, client.Config{URL: "ws://" + sigAddr.String() + "/signaling", ChannelID: "sora", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	post := func(token string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+apiAddr.String()+"/", nil)
		req.Header.Set("x-sora-target", "Sora_20201013.ListChannels")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := post(""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without token: %d %s", resp.StatusCode, body)
	}
	resp, body := post("t0ken")
	if resp.StatusCode != http.StatusOK || body != `[{"channel_id":"sora","multistream":true,"spotlight":false}]` {
		t.Errorf("ListChannels: %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://127.0.0.1:5000" {
		t.Errorf("CORS origin %q", got)
	}
}
