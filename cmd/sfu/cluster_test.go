package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// No cluster flag: single node, and no NATS at all.
func TestNoClusterFlagsNoNATS(t *testing.T) {
	c, err := parseFlags([]string{"--listen", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cluster.enabled() {
		t.Fatal("cluster mode on without cluster flags")
	}
	m, err := joinCluster(context.Background(), c.cluster, nil, slog.New(slog.DiscardHandler), nil, nil)
	if m != nil || err != nil {
		t.Fatalf("joinCluster without flags: %v, %v; want nothing started", m, err)
	}
}

func TestClusterFlagsNeedEachOther(t *testing.T) {
	for _, args := range [][]string{
		{"--node-name", "a"}, // no signaling URL, no NATS
		{"--node-name", "a", "--signaling-url", "ws://x/signaling"}, // no NATS
		{"--node-name", "a", "--signaling-url", "ws://x/signaling", "--nats-url", "nats://127.0.0.1:1", "--nats-listen", "127.0.0.1:0"},
	} {
		c, err := parseFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := joinCluster(context.Background(), c.cluster, nil, slog.New(slog.DiscardHandler), nil, nil); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// One node with the embedded NATS server lists itself in
// ListClusterNodes and stops cleanly.
func TestEmbeddedClusterNode(t *testing.T) {
	c, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--interface", "lo",
		"--api-listen", "127.0.0.1:0", "--drain-timeout", "0",
		"--node-name", "solo", "--signaling-url", "ws://127.0.0.1:1/signaling",
		"--nats-listen", "127.0.0.1:0", "--nats-store-dir", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 2)
	c.apiReady = ready
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	var apiAddr net.Addr
	select {
	case apiAddr = <-ready:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+apiAddr.String()+"/", strings.NewReader(""))
	req.Header.Set("x-sora-target", "Sora_20211215.ListClusterNodes")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []map[string]any
	err = json.NewDecoder(resp.Body).Decode(&nodes)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(nodes) != 1 || nodes[0]["node_name"] != "solo" {
		t.Fatalf("ListClusterNodes: %d %v %v", resp.StatusCode, nodes, err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
}
