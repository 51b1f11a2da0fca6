package httpapi_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// rawClient speaks signaling by hand: it sends connect and then only what
// the test tells it to (it never answers the offer).
type rawClient struct {
	ws     *websocket.Conn
	offer  chan json.RawMessage // the offer
	pings  chan struct{}        // one per ping received
	closed chan struct{}        // the server closed the socket
	wg     sync.WaitGroup
	err    error // why reading stopped; valid after closed
}

func dialRaw(t *testing.T, ctx context.Context, url, channelID string) *rawClient {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	c := &rawClient{ws: ws, offer: make(chan json.RawMessage, 1), pings: make(chan struct{}, 16), closed: make(chan struct{})}
	msg, _ := json.Marshal(map[string]any{"type": "connect", "role": "recvonly", "channel_id": channelID, "sora_client": "raw test client"})
	if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatal(err)
	}
	c.wg.Add(1)
	go c.read()
	t.Cleanup(func() {
		ws.CloseNow()
		c.wg.Wait()
	})
	return c
}

func (c *rawClient) read() {
	defer c.wg.Done()
	defer close(c.closed)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		var m struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(data, &m)
		switch m.Type {
		case "offer":
			c.offer <- data
		case "ping":
			select {
			case c.pings <- struct{}{}:
			default:
			}
		}
	}
}

func (c *rawClient) send(ctx context.Context, raw string) error {
	return c.ws.Write(ctx, websocket.MessageText, []byte(raw))
}

// connectionID waits for the offer and returns its connection id.
func (c *rawClient) connectionID(t *testing.T, ctx context.Context) string {
	t.Helper()
	select {
	case raw := <-c.offer:
		var o struct {
			ConnectionID string `json:"connection_id"`
		}
		if err := json.Unmarshal(raw, &o); err != nil || o.ConnectionID == "" {
			t.Fatalf("offer %s: %v", raw, err)
		}
		return o.ConnectionID
	case <-ctx.Done():
		t.Fatal("no offer")
	}
	return ""
}
