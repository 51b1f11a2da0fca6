package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// ReadLimit is the largest message the client accepts from the server.
const ReadLimit = 1 << 20

// writeTimeout bounds every message the client writes on its own.
const writeTimeout = 10 * time.Second

// ErrClosed is returned (wrapped) once the client was closed by Close or
// Disconnect.
var ErrClosed = errors.New("client: closed")

// ErrPeerConnectionFailed is returned by Dial when the PeerConnection
// failed before it was connected.
var ErrPeerConnectionFailed = errors.New("client: PeerConnection failed")

// defaultHTTPClient never uses a proxy: the client connects only to the
// URL it is given.
var defaultHTTPClient = &http.Client{Transport: &http.Transport{
	Proxy:       nil,
	DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
}}

// Client is one signaling connection and its PeerConnection.
type Client struct {
	cfg      Config
	log      *slog.Logger
	api      *webrtc.API
	ws       *websocket.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	dispatch *dispatcher

	connected chan struct{} // PeerConnection reached "connected"
	connOnce  sync.Once
	failed    chan struct{} // PeerConnection reached "failed"
	failOnce  sync.Once
	done      chan struct{} // signaling ended
	finished  chan struct{} // PeerConnection closed, goroutines ended
	closeOnce sync.Once
	wg        sync.WaitGroup // RTCP readers and track drains

	// Set by the read loop (the only writer) and read under mu.
	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every change
	pc           *webrtc.PeerConnection
	offer        OfferMessage
	haveOffer    bool
	simulcastMid string
	notifies     []Notify
	pushes       []json.RawMessage
	tracks       []*RemoteTrack
	reOffers     int
	remoteSDP    string // the last offer or re-offer answered
	closeErr     *CloseError
	endErr       error
	stopped      bool // no new track goroutines

	// DataChannels (datachannel.go): the server's, by label; the "#"
	// messages received; whether "switched" came.
	channels map[string]*webrtc.DataChannel
	messages []LabelMessage
	switched bool
	// statsRequests counts req-stats on the stats DataChannel.
	statsRequests int

	// handleMu serialises the server's signaling, which arrives on the
	// WebSocket and, once they are open, on the DataChannels.
	handleMu sync.Mutex
	// wsDetached: the client closed its WebSocket after "switched" with
	// ignore_disconnect_websocket; dcClosed then ends the client.
	wsDetached  atomic.Bool
	dcClosed    chan struct{}
	dcCloseOnce sync.Once

	// Trickle: candidates wait until the answer is sent.
	candMu     sync.Mutex
	answerSent bool
	pending    []candidateMessage
	ufrag      string
	firstMid   string
}

// Dial connects to cfg.URL, sends "connect", answers the offer and returns
// once the PeerConnection is connected. When the server closed the
// WebSocket first, the error wraps a *CloseError with its code and reason.
// ctx bounds the whole setup, not the life of the client.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	api := cfg.API
	if api == nil {
		var err error
		if api, err = NewAPI(APIOptions{LoopbackOnly: true}); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	ws, _, err := websocket.Dial(ctx, cfg.URL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", cfg.URL, err)
	}
	ws.SetReadLimit(ReadLimit)

	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, log: log, api: api, ws: ws, ctx: cctx, cancel: cancel,
		dispatch:  newDispatcher(),
		connected: make(chan struct{}),
		failed:    make(chan struct{}),
		done:      make(chan struct{}),
		finished:  make(chan struct{}),
		changed:   make(chan struct{}),
		dcClosed:  make(chan struct{}),
	}
	go c.dispatch.run()
	go c.readLoop()

	if err := c.Send(ctx, cfg.ConnectMessage()); err != nil {
		// The server may have closed already: prefer its close code.
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		if ce := c.CloseError(); ce != nil {
			err = ce
		}
		_ = c.Close()
		return nil, fmt.Errorf("client: send connect: %w", err)
	}

	select {
	case <-c.connected:
		return c, nil
	case <-c.done:
		err = c.Err()
		_ = c.Close()
		if re, ok := errors.AsType[*RedirectError](err); ok && cfg.MaxRedirects >= 0 {
			return redirect(ctx, cfg, re)
		}
		return nil, fmt.Errorf("client: signaling ended before the connection was established: %w", err)
	case <-c.failed:
		_ = c.Close()
		return nil, ErrPeerConnectionFailed
	case <-ctx.Done():
		ce := c.CloseError()
		_ = c.Close()
		if ce != nil {
			return nil, fmt.Errorf("client: %w (%w)", ctx.Err(), ce)
		}
		return nil, fmt.Errorf("client: waiting for the connection: %w", ctx.Err())
	}
}

// redirect dials the location of a redirect with "redirect": true.
func redirect(ctx context.Context, cfg Config, re *RedirectError) (*Client, error) {
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = 3
	}
	if cfg.MaxRedirects == 1 {
		cfg.MaxRedirects = -1 // the last one allowed: the next is an error
	} else {
		cfg.MaxRedirects--
	}
	cfg.URL, cfg.Redirect = re.Location, true
	return Dial(ctx, cfg)
}

// ConnectionID is the connection id the server assigned in its offer.
func (c *Client) ConnectionID() string { return c.Offer().ConnectionID }

// ClientID is the client id of the offer.
func (c *Client) ClientID() string { return c.Offer().ClientID }

// BundleID is the bundle id of the offer.
func (c *Client) BundleID() string { return c.Offer().BundleID }

// Offer returns the decoded initial offer (Raw holds the message as sent).
func (c *Client) Offer() OfferMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offer
}

// PeerConnection returns the PeerConnection (nil before the offer).
func (c *Client) PeerConnection() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

// RemoteSDP returns the last offer or re-offer answered, as the server
// sent it, or "" before the offer.
func (c *Client) RemoteSDP() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteSDP
}

// LocalSDP returns the SDP of the current local description (the last
// answer), or "".
func (c *Client) LocalSDP() string {
	if pc := c.PeerConnection(); pc != nil {
		if d := pc.CurrentLocalDescription(); d != nil {
			return d.SDP
		}
	}
	return ""
}

// Send marshals v as JSON and sends it as one text message.
func (c *Client) Send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("client: marshal: %w", err)
	}
	return c.SendRaw(ctx, websocket.MessageText, b)
}

// SendRaw sends data as one message of type typ, as it is (tests use it to
// send malformed input).
func (c *Client) SendRaw(ctx context.Context, typ websocket.MessageType, data []byte) error {
	if err := c.ws.Write(ctx, typ, data); err != nil {
		return fmt.Errorf("client: write: %w", err)
	}
	return nil
}

// write sends v from the client's own goroutines: on the signaling
// DataChannel once it is open, as sora-js-sdk does, else on the
// WebSocket.
func (c *Client) write(v any) error {
	if c.signalingChannel() != nil {
		return c.sendOn("signaling", v)
	}
	return c.writeWS(v)
}

// writeWS sends v on the WebSocket.
func (c *Client) writeWS(v any) error {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	return c.Send(ctx, v)
}

// Disconnect sends {"type":"disconnect","reason":"NO-ERROR"}, waits for the
// server to close the WebSocket, and closes the PeerConnection. It returns
// nil when the server closed with 1000. When ctx ends first the client is
// closed abruptly and ctx's error returned.
func (c *Client) Disconnect(ctx context.Context) error {
	msg := map[string]string{"type": "disconnect", "reason": "NO-ERROR"}
	var err error
	if c.Switched() {
		// The server answers by closing the DataChannels. The server
		// switched once it saw them open; here the signaling one may
		// still be opening.
		if err = c.Wait(ctx, func() bool { return c.signalingChannel() != nil }); err == nil {
			err = c.sendOn("signaling", msg)
		}
	} else {
		err = c.Send(ctx, msg)
	}
	if err == nil {
		select {
		case <-c.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	_ = c.Close()
	if ce := c.CloseError(); ce != nil {
		if ce.Code == int(websocket.StatusNormalClosure) {
			return nil
		}
		return ce
	}
	if err == nil {
		err = c.Err()
	}
	if errors.Is(err, ErrDataChannelsClosed) {
		return nil
	}
	return fmt.Errorf("client: disconnect: %w", err)
}

// Close ends the client abruptly: the WebSocket is dropped without a close
// handshake or a disconnect message and the PeerConnection is closed. It
// waits for the client's goroutines, except callbacks that are running (a
// callback may call Close; later queued callbacks are still delivered).
// Close is safe to call more than once and from any goroutine.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		_ = c.ws.CloseNow()
	})
	<-c.finished
	return nil
}

// Done is closed when the signaling connection ended (closed by the
// server, dropped, or closed by Close).
func (c *Client) Done() <-chan struct{} { return c.done }

// CloseError returns the code and reason the server closed the WebSocket
// with, or nil when it has not (yet) closed it with a close frame.
func (c *Client) CloseError() *CloseError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Err returns why the signaling connection ended (a *CloseError when the
// server closed it), or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endErr
}

// readLoop reads and handles the server's messages one at a time, in order,
// then tears the client down.
func (c *Client) readLoop() {
	err := c.readMessages()
	if c.wsDetached.Load() {
		// Switched, WebSocket closed by the client: the connection lives
		// until the server closes the DataChannels (after its close
		// message, if any) or the client is closed.
		select {
		case <-c.dcClosed:
			err = ErrDataChannelsClosed
			if ce := c.CloseError(); ce != nil {
				err = ce
			}
		case <-c.ctx.Done():
			err = ErrClosed
		}
	}
	c.finish(err)
}

func (c *Client) readMessages() error {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			c.log.Debug("ignoring binary message", "len", len(data))
			continue
		}
		if err := c.handle(data); err != nil {
			return err
		}
	}
}

// finish runs once, in the read loop goroutine, when signaling ended.
func (c *Client) finish(err error) {
	var ce *CloseError
	var wce websocket.CloseError
	if errors.As(err, &wce) {
		ce = &CloseError{Code: int(wce.Code), Reason: wce.Reason}
		err = ce
	} else if errors.As(err, &ce) || errors.Is(err, ErrDataChannelsClosed) {
		// Ended over the DataChannels.
	} else if c.ctx.Err() != nil {
		err = ErrClosed
	}
	c.log.Debug("signaling ended", "err", err)
	c.cancel()
	_ = c.ws.CloseNow()

	c.mu.Lock()
	c.closeErr = ce
	c.endErr = err
	c.stopped = true
	pc := c.pc
	c.bump()
	c.mu.Unlock()
	close(c.done)

	if pc != nil {
		if err := pc.GracefulClose(); err != nil {
			c.log.Debug("closing PeerConnection", "err", err)
		}
	}
	c.wg.Wait()
	c.dispatch.close()
	close(c.finished)
}

// handle dispatches one message from the server's WebSocket.
func (c *Client) handle(data []byte) error {
	c.handleMu.Lock()
	defer c.handleMu.Unlock()
	return c.handleJSON(data, true)
}

// handleJSON dispatches one message from the server, from the WebSocket
// or the notify and push DataChannels (which carry the same messages).
// c.handleMu must be held.
func (c *Client) handleJSON(data []byte, viaWS bool) error {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		c.log.Debug("ignoring malformed message", "err", err)
		return nil
	}
	raw := json.RawMessage(data)
	if f := c.cfg.OnMessage; f != nil && viaWS {
		c.dispatch.push(func() { f(env.Type, raw) })
	}
	switch env.Type {
	case "offer":
		return c.handleOffer(data)
	case "re-offer", "update":
		return c.handleReOffer(env.Type, env.SDP)
	case "ping":
		return c.handlePing(string(env.Stats) == "true")
	case "switched":
		c.onSwitched(env.IgnoreDisconnectWebSocket)
	case "notify":
		c.mu.Lock()
		c.notifies = append(c.notifies, Notify{EventType: env.EventType, Raw: raw})
		c.bump()
		c.mu.Unlock()
		if f := c.cfg.OnNotify; f != nil {
			c.dispatch.push(func() { f(env.EventType, raw) })
		}
	case "push":
		c.recordPush(env.Data)
	case "redirect":
		c.mu.Lock()
		before := !c.haveOffer
		c.mu.Unlock()
		if before && env.Location != "" {
			return &RedirectError{Location: env.Location}
		}
	default:
		c.log.Debug("ignoring message", "type", env.Type)
	}
	return nil
}

func (c *Client) recordPush(data json.RawMessage) {
	c.mu.Lock()
	c.pushes = append(c.pushes, data)
	c.bump()
	c.mu.Unlock()
	if f := c.cfg.OnPush; f != nil {
		c.dispatch.push(func() { f(data) })
	}
}

// bump wakes every waiter; c.mu must be held.
func (c *Client) bump() {
	close(c.changed)
	c.changed = make(chan struct{})
}
