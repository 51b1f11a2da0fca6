package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/datachannel"
)

// DataChannel is one data_channels entry: in connect, a messaging label
// the client asks for; in the offer, every DataChannel the server opens.
type DataChannel = datachannel.Spec

// LabelMessage is one message received on a "#" label.
type LabelMessage struct {
	Label string
	Data  []byte
}

// ErrDataChannelsClosed is the end of a switched client whose
// DataChannels the server closed without a close message (after the
// client's disconnect).
var ErrDataChannelsClosed = errors.New("client: DataChannels closed")

// maxMessageSize bounds an inflated DataChannel message.
const maxMessageSize = 1 << 20

// dataChannelMessage is the type and fields of a message on the server's
// own labels.
type dataChannelMessage struct {
	Type   string `json:"type"`
	SDP    string `json:"sdp"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// onDataChannel keeps a DataChannel the server opened and reads it.
func (c *Client) onDataChannel(dc *webrtc.DataChannel) {
	label := dc.Label()
	c.mu.Lock()
	if c.channels == nil {
		c.channels = map[string]*webrtc.DataChannel{}
	}
	c.channels[label] = dc
	c.mu.Unlock()
	dc.OnMessage(func(m webrtc.DataChannelMessage) { c.onDataChannelMessage(label, m.Data) })
	dc.OnOpen(func() {
		c.mu.Lock()
		c.bump()
		c.mu.Unlock()
	})
	if label == datachannel.LabelSignaling {
		dc.OnClose(func() { c.dcCloseOnce.Do(func() { close(c.dcClosed) }) })
	}
}

// spec returns the offer's entry for label.
func (c *Client) spec(label string) (DataChannel, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.offer.DataChannels {
		if d.Label == label {
			return d, true
		}
	}
	return DataChannel{}, false
}

func (c *Client) onDataChannelMessage(label string, data []byte) {
	spec, ok := c.spec(label)
	if !ok {
		c.log.Debug("message on a DataChannel the offer did not describe", "label", label)
		return
	}
	if spec.Compress {
		var err error
		if data, err = datachannel.Decompress(data, maxMessageSize); err != nil {
			c.log.Debug("undecodable DataChannel message", "label", label, "err", err)
			return
		}
	}
	if datachannel.IsMessagingLabel(label) {
		if f := c.cfg.OnDataChannelMessage; f != nil {
			c.dispatch.push(func() { f(label, data) })
			return
		}
		c.mu.Lock()
		c.messages = append(c.messages, LabelMessage{Label: label, Data: data})
		c.bump()
		c.mu.Unlock()
		return
	}
	switch label {
	case datachannel.LabelNotify, datachannel.LabelPush:
		c.handleMu.Lock()
		defer c.handleMu.Unlock()
		_ = c.handleJSON(data, false)
	case datachannel.LabelSignaling:
		var m dataChannelMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return
		}
		switch m.Type {
		case "re-offer":
			c.handleMu.Lock()
			defer c.handleMu.Unlock()
			if err := c.handleReOffer(m.Type, m.SDP); err != nil {
				c.log.Debug("re-offer over DataChannel", "err", err)
			}
		case "close":
			c.mu.Lock()
			c.closeErr = &CloseError{Code: m.Code, Reason: m.Reason}
			c.mu.Unlock()
		}
	case datachannel.LabelStats:
		var m dataChannelMessage
		if json.Unmarshal(data, &m) == nil && m.Type == "req-stats" {
			reply := struct {
				Type    string            `json:"type"`
				Reports []json.RawMessage `json:"reports"`
			}{"stats", statsJSON(c.PeerConnection().GetStats())}
			if err := c.sendOn(datachannel.LabelStats, reply); err != nil {
				c.log.Debug("stats over DataChannel", "err", err)
			}
			c.mu.Lock()
			c.statsRequests++
			c.bump()
			c.mu.Unlock()
		}
	}
}

// onSwitched handles "switched": the signaling continues over the
// DataChannels; with ignore_disconnect_websocket the client closes its
// WebSocket, as sora-js-sdk does.
func (c *Client) onSwitched(ignoreWS bool) {
	c.mu.Lock()
	c.switched = true
	c.bump()
	c.mu.Unlock()
	if ignoreWS {
		c.wsDetached.Store(true)
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
	}
}

// Switched reports whether the server sent "switched".
func (c *Client) Switched() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.switched
}

// StatsRequests returns how many req-stats the server sent on the stats
// DataChannel (each answered with the client's stats).
func (c *Client) StatsRequests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statsRequests
}

// WaitSwitched waits for "switched".
func (c *Client) WaitSwitched(ctx context.Context) error { return c.Wait(ctx, c.Switched) }

// sendOn sends v as JSON on one of the server's DataChannels (compressed
// when the offer says so).
func (c *Client) sendOn(label string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("client: marshal: %w", err)
	}
	return c.SendMessage(label, b)
}

// SendMessage sends data on the DataChannel of label, zlib-compressed
// when the offer's entry for it says so.
func (c *Client) SendMessage(label string, data []byte) error {
	c.mu.Lock()
	dc := c.channels[label]
	c.mu.Unlock()
	spec, ok := c.spec(label)
	if dc == nil || !ok {
		return fmt.Errorf("client: no DataChannel %q", label)
	}
	if spec.Compress {
		var err error
		if data, err = datachannel.Compress(data); err != nil {
			return err
		}
	}
	if datachannel.IsMessagingLabel(label) {
		return dc.Send(data)
	}
	return dc.SendText(string(data))
}

// Messages returns the messages received on "#" labels so far (none when
// Config.OnDataChannelMessage is set).
func (c *Client) Messages() []LabelMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]LabelMessage(nil), c.messages...)
}

// WaitMessages waits until n messages arrived on "#" labels.
func (c *Client) WaitMessages(ctx context.Context, n int) error {
	return c.Wait(ctx, func() bool { return len(c.Messages()) >= n })
}

// WaitDataChannelsOpen waits until the DataChannels of the offer are all
// open.
func (c *Client) WaitDataChannelsOpen(ctx context.Context) error {
	return c.Wait(ctx, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, d := range c.offer.DataChannels {
			dc := c.channels[d.Label]
			if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
				return false
			}
		}
		return len(c.offer.DataChannels) > 0
	})
}

// signalingChannel returns the signaling DataChannel once it is open.
func (c *Client) signalingChannel() *webrtc.DataChannel {
	c.mu.Lock()
	defer c.mu.Unlock()
	dc := c.channels[datachannel.LabelSignaling]
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return nil
	}
	return dc
}

// CloseWebSocket drops the signaling WebSocket only, as when a browser
// loses it: without ignore_disconnect_websocket the server ends the
// connection; with it, a switched connection goes on.
func (c *Client) CloseWebSocket() {
	_ = c.ws.CloseNow()
}
