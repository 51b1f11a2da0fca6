package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/gosfu/sfu/datachannel"
)

// DataChannelMessage is a message a client sent on one of the server's
// own labels (signaling, stats), for the adapter to read.
type DataChannelMessage struct {
	Label string
	Data  []byte
}

// ErrNoDataChannel: the connection has no open DataChannel of that label.
var ErrNoDataChannel = errors.New("sfu: no such DataChannel")

// inboundQueueSize bounds the client's signaling messages waiting for the
// adapter; a client that floods them is disconnected.
const inboundQueueSize = 64

// closeDrainTimeout bounds the wait for the client to acknowledge the
// close message before the DataChannels go.
const closeDrainTimeout = time.Second

// Where a connection's signaling is.
const (
	dcPending  int32 = iota // DataChannels opening; signaling on the WebSocket
	dcSwitched              // every DataChannel open and "switched" sent
	dcFellBack              // they did not open in time: WebSocket for good
)

// dataChannels is a connection's DataChannels: the server's own labels
// and one per requested messaging label. The map is filled before the
// offer and read only afterwards.
type dataChannels struct {
	c        *Connection
	ignoreWS bool
	byLabel  map[string]*webrtc.DataChannel
	specs    map[string]datachannel.Spec // messaging labels
	ordered  []datachannel.Spec          // the same, as the client listed them
	limiter  *rate.Limiter
	inbound  chan DataChannelMessage
	opened   atomic.Int32
	state    atomic.Int32
	allOpen  chan struct{} // closed when every DataChannel has opened
	openOnce sync.Once
}

// openDataChannels creates the connection's DataChannels on its
// PeerConnection, before the first offer, so that the offer carries an
// application m-line.
func (c *Connection) openDataChannels(ignoreWS bool, specs []datachannel.Spec) error {
	o := c.engine.opts.DataChannels
	d := &dataChannels{
		c: c, ignoreWS: ignoreWS,
		byLabel: map[string]*webrtc.DataChannel{},
		specs:   map[string]datachannel.Spec{},
		limiter: o.Limits.NewLimiter(),
		inbound: make(chan DataChannelMessage, inboundQueueSize),
		allOpen: make(chan struct{}),
	}
	for _, label := range datachannel.SignalingLabels {
		if err := d.create(label, nil); err != nil {
			return err
		}
	}
	for _, s := range specs {
		init := &webrtc.DataChannelInit{Ordered: s.Ordered, MaxPacketLifeTime: s.MaxPacketLifeTime, MaxRetransmits: s.MaxRetransmits}
		if s.Protocol != "" {
			init.Protocol = &s.Protocol
		}
		d.specs[s.Label] = s
		d.ordered = append(d.ordered, s)
		if err := d.create(s.Label, init); err != nil {
			return err
		}
	}
	c.dc = d
	return nil
}

func (d *dataChannels) create(label string, init *webrtc.DataChannelInit) error {
	ch, err := d.c.pc.CreateDataChannel(label, init)
	if err != nil {
		return fmt.Errorf("sfu: create DataChannel %q: %w", label, err)
	}
	d.byLabel[label] = ch
	ch.OnOpen(func() { d.onOpen(label, ch) })
	ch.OnMessage(func(m webrtc.DataChannelMessage) { d.onMessage(label, m.Data) })
	return nil
}

func (d *dataChannels) onOpen(label string, ch *webrtc.DataChannel) {
	if s, ok := d.specs[label]; ok && s.Direction.Receives() {
		d.c.room.addMessagingReceiver(label, messagingReceiver{c: d.c, ch: ch, spec: s})
	}
	if int(d.opened.Add(1)) == len(d.byLabel) {
		d.openOnce.Do(func() { close(d.allOpen) })
	}
}

func (d *dataChannels) onMessage(label string, data []byte) {
	d.c.engine.dcCounters.Received(len(data))
	if datachannel.IsMessagingLabel(label) {
		d.c.room.relay(d.c, label, data)
		return
	}
	if label != datachannel.LabelSignaling && label != datachannel.LabelStats {
		return // notify and push are the server's to send
	}
	select {
	case d.inbound <- DataChannelMessage{Label: label, Data: data}:
	default:
		d.c.log.Warn("DataChannel signaling queue full, disconnecting")
		d.c.Close(ReasonSlowConsumer)
	}
}

// send sends one message on label: text for the server's own labels (the
// SDKs parse them as JSON strings), binary for messaging labels.
func (d *dataChannels) send(label string, data []byte) error {
	ch := d.byLabel[label]
	if ch == nil || ch.ReadyState() != webrtc.DataChannelStateOpen {
		return fmt.Errorf("%w: %q", ErrNoDataChannel, label)
	}
	var err error
	if datachannel.IsMessagingLabel(label) {
		err = ch.Send(data)
	} else {
		err = ch.SendText(string(data))
	}
	if err != nil {
		return fmt.Errorf("sfu: DataChannel %q: %w", label, err)
	}
	d.c.engine.dcCounters.Sent(len(data))
	return nil
}

// closeMessage is what the signaling DataChannel carries when the server
// ends a switched connection, as Sora sends it.
type closeMessage struct {
	Type   string `json:"type"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// farewell tells a switched client why its connection ends, waits a
// moment for the message to be acknowledged, and closes the DataChannels,
// waiting (a moment too) until the client closed its ends: closing the
// PeerConnection first aborts the SCTP association, which browsers report
// as a DataChannel error (sora-js-sdk then ends with
// DISCONNECT-DATA-CHANNEL-ERROR instead of a normal disconnect). A client
// that asked to disconnect only sees its DataChannels close, which is
// what it waits for.
func (d *dataChannels) farewell(reason CloseReason) {
	if d.state.Load() == dcSwitched && reason != ReasonDisconnect && reason != ReasonTransportClosed {
		ch := d.byLabel[datachannel.LabelSignaling]
		acked := make(chan struct{})
		var once sync.Once
		ch.SetBufferedAmountLowThreshold(0)
		ch.OnBufferedAmountLow(func() { once.Do(func() { close(acked) }) })
		b, _ := json.Marshal(closeMessage{Type: "close", Code: reason.Code, Reason: reason.Reason})
		if err := d.send(datachannel.LabelSignaling, b); err == nil && ch.BufferedAmount() > 0 {
			t := time.NewTimer(closeDrainTimeout)
			select {
			case <-acked:
			case <-t.C:
			}
			t.Stop()
		}
	}
	closed := make(chan struct{}, len(d.byLabel)) // never blocks a callback
	n := 0
	for _, ch := range d.byLabel {
		if ch.ReadyState() != webrtc.DataChannelStateOpen {
			continue
		}
		n++
		var once sync.Once
		done := func() { once.Do(func() { closed <- struct{}{} }) }
		ch.OnClose(done)
		if err := ch.Close(); err != nil {
			done()
		}
	}
	t := time.NewTimer(closeDrainTimeout)
	defer t.Stop()
	for ; n > 0; n-- {
		select {
		case <-closed:
		case <-t.C:
			return
		}
	}
}

// DataChannelMessages returns the client's messages on the server's
// signaling and stats DataChannels, or nil when the connection has no DataChannel
// signaling. The adapter must drain it.
func (c *Connection) DataChannelMessages() <-chan DataChannelMessage {
	if c.dc == nil {
		return nil
	}
	return c.dc.inbound
}

// SendDataChannel sends data on one of the connection's DataChannels.
// After EventSwitched the adapter sends its signaling this way: re-offers
// and close on "signaling", notifies on "notify", pushes on "push",
// req-stats on "stats".
func (c *Connection) SendDataChannel(label string, data []byte) error {
	if c.dc == nil {
		return fmt.Errorf("%w: %q", ErrNoDataChannel, label)
	}
	return c.dc.send(label, data)
}

// switchSignaling is called by the run loop once every DataChannel is
// open.
func (c *Connection) switchSignaling() {
	if c.dc.state.CompareAndSwap(dcPending, dcSwitched) {
		c.log.Debug("signaling switched to DataChannels")
		c.emit(Event{Kind: EventSwitched, IgnoreDisconnectWebSocket: c.dc.ignoreWS})
	}
}

// dataChannelsTimedOut is called by the run loop when OpenTimeout passed.
func (c *Connection) dataChannelsTimedOut() {
	if c.dc.state.CompareAndSwap(dcPending, dcFellBack) {
		c.log.Warn("DataChannels did not open in time, signaling stays on the WebSocket",
			"opened", c.dc.opened.Load(), "of", len(c.dc.byLabel))
	}
}

// DataChannelStats returns the engine's DataChannel counters: SCTP
// messages both ways, and messaging relays, deliveries and drops.
func (e *Engine) DataChannelStats() datachannel.Stats { return e.dcCounters.Snapshot() }

// offerSpecs describes every DataChannel for the offer: the server's own
// labels (uncompressed; signaling and stats both ways, notify and push
// to the client), then the messaging labels as the client asked.
func (d *dataChannels) offerSpecs() []datachannel.Spec {
	out := make([]datachannel.Spec, 0, len(d.byLabel))
	for _, label := range datachannel.SignalingLabels {
		dir := datachannel.SendRecv
		if label == datachannel.LabelNotify || label == datachannel.LabelPush {
			dir = datachannel.RecvOnly
		}
		out = append(out, datachannel.Spec{Label: label, Direction: dir})
	}
	return append(out, d.ordered...)
}

func (e *Engine) dataChannelSignaling(req *ConnectRequest) bool {
	if req.DataChannelSignaling != nil {
		return *req.DataChannelSignaling
	}
	return e.opts.DataChannels.Signaling
}

func (e *Engine) ignoreDisconnectWebSocket(req *ConnectRequest) bool {
	if req.IgnoreDisconnectWebSocket != nil {
		return *req.IgnoreDisconnectWebSocket
	}
	return e.opts.DataChannels.IgnoreDisconnectWebSocket
}

// validateDataChannels checks data_channels and fills their defaults.
func (e *Engine) validateDataChannels(req *ConnectRequest) error {
	if len(req.DataChannels) == 0 {
		return nil
	}
	if !e.dataChannelSignaling(req) {
		return invalid("data_channels", "needs data_channel_signaling")
	}
	if err := datachannel.Validate(req.DataChannels); err != nil {
		var se *datachannel.SpecError
		if errors.As(err, &se) && se.Field != "" {
			return invalid("data_channels."+se.Field, "%s", se.Message)
		}
		return invalid("data_channels", "%v", err)
	}
	return nil
}
