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
	c, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--interface", "lo"})
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
