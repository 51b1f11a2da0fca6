package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTTL is short so that the crash test waits seconds, not tens.
const testTTL = 3 * time.Second

// testNode is one node of a test cluster: an embedded NATS server, an
// engine, the cluster node and an HTTP server with /signaling and /api.
type testNode struct {
	name   string
	nats   natsServer
	engine *sfu.Engine
	node   *Node
	srv    *httptest.Server
	sigURL string
	apiURL string
}

// natsServer is an embedded server or a nats-server process.
type natsServer interface {
	ClientURL() string
	Shutdown()
}

// clusterStarter starts a cluster of n nodes, each on its own NATS
// server; edit (if not nil) adjusts each node's Config.
type clusterStarter func(t testing.TB, n int, edit func(*Config)) []*testNode

// freeAddrs returns n addresses on 127.0.0.1 that were free a moment ago.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Addr().String())
		l.Close()
	}
	return out
}

// startNATS starts n embedded NATS servers on 127.0.0.1, each routed to
// all (a server ignores the route to itself), and waits until each sees
// all the others. JetStream's cluster needs its routes configured at
// start, so the route ports are picked before.
func startNATS(t testing.TB, n int) []*EmbeddedServer {
	t.Helper()
	listens := freeAddrs(t, n)
	var routes []string
	for _, a := range listens {
		routes = append(routes, "nats://"+a)
	}
	var servers []*EmbeddedServer
	for i := range n {
		cfg := EmbeddedConfig{
			Name: fmt.Sprintf("n%d", i), Listen: "127.0.0.1:0", StoreDir: t.TempDir(),
		}
		if n > 1 {
			cfg.ClusterListen, cfg.Routes = listens[i], routes
		}
		s, err := StartEmbedded(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		servers = append(servers, s)
	}
	ctx := testContext(t, 20*time.Second)
	for _, s := range servers {
		sfutest.Eventually(t, ctx, "NATS routes up", func() bool { return s.Routes() >= n-1 })
	}
	return servers
}

// newCluster starts n nodes, each on its own embedded NATS server.
func newCluster(t testing.TB, n int, edit func(*Config)) []*testNode {
	t.Helper()
	return nodesOn(t, startNATS(t, n), edit)
}

// nodesOn starts one node on each server.
func nodesOn[S natsServer](t testing.TB, servers []S, edit func(*Config)) []*testNode {
	t.Helper()
	n := len(servers)
	var nodes []*testNode
	for i, ns := range servers {
		nodes = append(nodes, newTestNode(t, fmt.Sprintf("node%c", 'A'+i), ns.ClientURL(), n, edit))
		nodes[i].nats = ns
	}
	return nodes
}

func newTestNode(t testing.TB, name, natsURL string, replicas int, edit func(*Config)) *testNode {
	t.Helper()
	engine := sfutest.NewEngine(t, sfu.Options{})
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	tn := &testNode{name: name, engine: engine, srv: srv,
		sigURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/signaling", apiURL: srv.URL + "/api"}
	cfg := Config{NodeName: name, SignalingURL: tn.sigURL, NATSURL: natsURL, TTL: testTTL, Replicas: replicas, Logger: testLogger(t)}
	if edit != nil {
		edit(&cfg)
	}
	node, err := New(testContext(t, 30*time.Second), engine, cfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	tn.node = node
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Close(ctx); err != nil {
			t.Errorf("node %s close: %v", name, err)
		}
	})
	mux.Handle("/signaling", node.SignalingHandler())
	mux.Handle("/api", node.APIHandler())
	t.Cleanup(srv.Close)
	return tn
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// call sends one management API call to the node and returns the status
// and body.
func (tn *testNode) call(t *testing.T, target, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tn.apiURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-sora-target", target)
	resp, err := tn.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// channelIDs calls ListChannels on the node.
func (tn *testNode) channelIDs(t *testing.T) map[string]bool {
	t.Helper()
	status, body := tn.call(t, "Sora_20201013.ListChannels", "")
	if status != http.StatusOK {
		t.Fatalf("ListChannels on %s: %d %s", tn.name, status, body)
	}
	var list []struct {
		ChannelID string `json:"channel_id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range list {
		out[c.ChannelID] = true
	}
	return out
}

// connections counts the engine's connections in channel ch.
func (tn *testNode) connections(ch string) int {
	n := 0
	for _, c := range tn.engine.ListConnections() {
		if c.ChannelID == ch {
			n++
		}
	}
	return n
}

func (tn *testNode) dial(t *testing.T, ctx context.Context, cfg client.Config) *client.Client {
	t.Helper()
	cfg.URL = tn.sigURL
	return sfutest.Dial(t, ctx, cfg)
}

// rawConnect opens a signaling WebSocket at url, sends a recvonly
// connect for ch and follows redirects until an offer comes. It returns
// the socket (open, the connection pending its answer) and the URL that
// served it.
func rawConnect(ctx context.Context, url, ch string) (*websocket.Conn, string, error) {
	redirected := false
	for range 4 {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			return nil, "", err
		}
		msg := map[string]any{"type": "connect", "role": "recvonly", "channel_id": ch}
		if redirected {
			msg["redirect"] = true
		}
		b, _ := json.Marshal(msg)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			ws.CloseNow()
			return nil, "", err
		}
		_, data, err := ws.Read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, "", err
		}
		var m struct{ Type, Location string }
		if err := json.Unmarshal(data, &m); err != nil {
			ws.CloseNow()
			return nil, "", err
		}
		switch m.Type {
		case "offer":
			return ws, url, nil
		case "redirect":
			ws.Close(websocket.StatusNormalClosure, "")
			url, redirected = m.Location, true
		default:
			ws.CloseNow()
			return nil, "", fmt.Errorf("unexpected %s", data)
		}
	}
	return nil, "", fmt.Errorf("too many redirects")
}

// contextCancelled returns a context that is already done.
func contextCancelled() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx, cancel
}

// testLogger logs to the test's output with CLUSTER_TEST_LOG set.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
