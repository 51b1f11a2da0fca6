//go:build unix

package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gosfu/sfu/client"
)

// TestSignalsDrainThenStop sends the process SIGTERM, then SIGINT: the
// first drains (readyz 503, the client stays), the second stops the
// server at once, and the client sees 1001.
func TestSignalsDrainThenStop(t *testing.T) {
	ready := make(chan net.Addr, 2)
	done := make(chan error, 1)
	go func() {
		done <- runWith([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--interface", "lo",
			"--api-listen", "127.0.0.1:0", "--drain-timeout", "1h"}, io.Discard, ready)
	}()
	var addrs []string
	for len(addrs) < 2 {
		select {
		case a := <-ready:
			addrs = append(addrs, a.String())
		case err := <-done:
			t.Fatalf("run: %v", err)
		}
	}
	api, sig := addrs[0], addrs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, client.Config{URL: "ws://" + sig + "/signaling", ChannelID: "sora", Role: "recvonly"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if code, _ := get(t, "http://"+api+"/readyz", ""); code == http.StatusServiceUnavailable {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("/readyz never reported draining after SIGTERM")
		case <-tick.C:
		}
	}
	select {
	case <-cl.Done():
		t.Fatalf("client closed by the drain: %v", cl.CloseError())
	default:
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the second signal did not stop the server")
	}
	<-cl.Done()
	if ce := cl.CloseError(); ce == nil || ce.Code != 1001 {
		t.Errorf("client closed with %v, want 1001", ce)
	}
}
