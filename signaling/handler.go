package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/datachannel"
)

// Defaults for Handler options.
const (
	DefaultMaxMessageSize = 256 << 10
	DefaultConnectTimeout = 10 * time.Second
	writeTimeout          = 10 * time.Second
)

// Handler is an http.Handler that serves Sora signaling on WebSocket.
type Handler struct {
	engine         *sfu.Engine
	log            *slog.Logger
	originPatterns []string
	maxMessageSize int64
	connectTimeout time.Duration
	limits         limits // limits.go
	router         Router // router.go; nil serves every connect here
}

// Option configures a Handler.
type Option func(*Handler)

// WithOriginPatterns restricts the pages allowed to connect (host
// patterns as in path.Match, e.g. "example.com", "*.example.com"). By
// default any origin is accepted: pages are often served from another
// port or host.
func WithOriginPatterns(patterns ...string) Option {
	return func(h *Handler) { h.originPatterns = patterns }
}

// WithMaxMessageSize bounds one signaling message (default 256 KiB).
func WithMaxMessageSize(n int64) Option { return func(h *Handler) { h.maxMessageSize = n } }

// WithConnectTimeout bounds the wait for the connect message after the
// WebSocket opens (default 10 s).
func WithConnectTimeout(d time.Duration) Option { return func(h *Handler) { h.connectTimeout = d } }

// WithLogger sets the handler's logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// NewHandler returns a handler that admits clients into engine.
func NewHandler(engine *sfu.Engine, opts ...Option) *Handler {
	h := &Handler{
		engine:         engine,
		log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		maxMessageSize: DefaultMaxMessageSize,
		connectTimeout: DefaultConnectTimeout,
		limits:         defaultLimits(),
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// ServeHTTP upgrades the request to a WebSocket and runs one client's
// signaling until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Admission before the upgrade: a client that has its WebSocket has
	// been counted.
	refused := h.limits.admit(r.RemoteAddr)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: len(h.originPatterns) == 0,
		OriginPatterns:     h.originPatterns,
	})
	if refused == "" {
		defer h.limits.release()
	}
	if err != nil {
		h.log.Debug("websocket accept", "err", err)
		return
	}
	if refused != "" {
		h.log.Info("signaling refused", "reason", refused, "remote_addr", r.RemoteAddr)
		ws.Close(CloseCodeError, refused)
		return
	}
	ws.SetReadLimit(-1) // sizes are checked in readMessage, to close with 4490
	s := &session{h: h, ws: ws, in: make(chan inbound), quit: make(chan struct{}), msgLimit: h.limits.messageLimiter()}
	s.out = wsTransport{s}
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("signaling panic", "panic", p)
			ws.Close(websocket.StatusInternalError, ReasonInternalError)
		}
		s.finish()
	}()
	s.serve(r)
}

// inbound is one message from the reader goroutine: its bytes, or the
// error that ended reading.
type inbound struct {
	data []byte
	err  error
}

// protocolError is a bad frame: it closes the socket with 4490 and reason.
type protocolError struct{ reason string }

func (e *protocolError) Error() string { return "signaling: " + e.reason }

type session struct {
	h    *Handler
	ws   *websocket.Conn
	conn *sfu.Connection
	in   chan inbound
	quit chan struct{}
	wg   sync.WaitGroup
	rbuf []byte // readMessage's, kept between messages up to maxKeptReadBuffer
	// msgLimit bounds the client's message rate; nil for no bound.
	msgLimit *rate.Limiter

	// out carries events: the WebSocket, then the DataChannels once the
	// connection switched. wsGone is set when a switched connection with
	// ignore_disconnect_websocket lost (or is losing) its WebSocket,
	// which then no longer ends it.
	out      transport
	switched bool
	ignoreWS bool
	wsGone   bool
}

// maxKeptReadBuffer bounds the read buffer a session keeps between
// messages: a rare large message does not pin its size for the session's
// life.
const maxKeptReadBuffer = 64 << 10

func (s *session) serve(r *http.Request) {
	s.wg.Add(1)
	go s.readLoop()

	req, ok := s.awaitConnect()
	if !ok {
		return
	}
	req.RemoteAddr, req.UserAgent = r.RemoteAddr, r.UserAgent()
	var routed func()
	if s.h.router != nil {
		location, done, err := s.h.router.Route(r.Context(), req)
		if err != nil {
			s.h.log.Info("connect not routed", "err", err, "channel_id", req.ChannelID, "remote_addr", req.RemoteAddr)
			s.closeWith(CloseCodeError, errorReason(err))
			return
		}
		if location != "" {
			s.h.log.Debug("connect redirected", "channel_id", req.ChannelID, "location", location)
			s.redirect(location)
			return
		}
		routed = done
	}
	conn, offer, err := s.h.engine.Connect(r.Context(), req)
	if routed != nil {
		routed()
	}
	if err != nil {
		s.h.log.Info("connect rejected", "err", err, "channel_id", req.ChannelID, "remote_addr", req.RemoteAddr)
		s.closeWith(CloseCodeError, errorReason(err))
		return
	}
	s.conn = conn
	if err := s.write(newOfferMessage(offer)); err != nil {
		conn.Close(sfu.ReasonTransportClosed)
		return
	}
	s.loop()
}

// awaitConnect reads the first message, which must be a valid connect.
func (s *session) awaitConnect() (sfu.ConnectRequest, bool) {
	timer := time.NewTimer(s.h.connectTimeout)
	defer timer.Stop()
	select {
	case <-timer.C:
		s.closeWith(CloseCodeError, ReasonConnectTimeout)
		return sfu.ConnectRequest{}, false
	case m := <-s.in:
		if m.err != nil {
			s.closeOnReadError(m.err)
			return sfu.ConnectRequest{}, false
		}
		env, err := readEnvelope(m.data)
		if err != nil {
			s.closeOnReadError(err)
			return sfu.ConnectRequest{}, false
		}
		if env.Type != "connect" {
			s.closeWith(CloseCodeError, ReasonConnectExpected)
			return sfu.ConnectRequest{}, false
		}
		req, err := parseConnect(m.data)
		if err != nil {
			s.closeWith(CloseCodeError, errorReason(err))
			return sfu.ConnectRequest{}, false
		}
		return req, true
	}
}

// loop relays engine events to the client and client messages (on the
// WebSocket and the DataChannels) to the engine until either side ends.
func (s *session) loop() {
	in := s.in
	for {
		select {
		case ev := <-s.conn.Events():
			if err := s.sendEvent(ev); err != nil {
				s.h.log.Debug("send event", "err", err, "connection_id", s.conn.ID())
				s.conn.Close(sfu.ReasonTransportClosed)
				return
			}
		case <-s.conn.Done():
			reason := s.conn.CloseReason()
			s.closeWith(websocket.StatusCode(reason.Code), reason.Reason)
			return
		case m := <-s.conn.DataChannelMessages():
			if !s.handleDataChannel(m) {
				return
			}
		case m := <-in:
			if m.err != nil && s.switched && s.ignoreWS {
				// The client closes its WebSocket after the switch;
				// the connection lives on its DataChannels.
				in = nil
				s.ws.CloseNow()
				continue
			}
			if m.err != nil {
				s.conn.Close(sfu.ReasonTransportClosed)
				s.closeOnReadError(m.err)
				return
			}
			if !s.handle(m.data) {
				return
			}
		}
	}
}

// sendEvent sends one engine event: on the WebSocket before the switch;
// after it on its DataChannel, except pings, which stay on the WebSocket
// while there is one and become req-stats on the stats DataChannel once
// it is gone.
func (s *session) sendEvent(ev sfu.Event) error {
	msg, label := eventMessage(ev)
	if msg == nil {
		return nil
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("signaling: marshal: %w", err)
	}
	switch {
	case ev.Kind == sfu.EventSwitched:
		if err := s.writeWS(b); err != nil {
			return err
		}
		// With ignore_disconnect_websocket the client closes the
		// WebSocket on "switched": nothing more is written to it.
		s.switched, s.ignoreWS, s.wsGone = true, ev.IgnoreDisconnectWebSocket, ev.IgnoreDisconnectWebSocket
		s.out = dcTransport{s.conn}
		return nil
	case ev.Kind == sfu.EventPing && s.switched && s.wsGone:
		return s.conn.SendDataChannel(datachannel.LabelStats, reqStats)
	case ev.Kind == sfu.EventPing:
		return s.writeWS(b)
	}
	return s.out.send(label, b)
}

// handle processes one client message after connect. It reports whether
// the session goes on.
func (s *session) handle(data []byte) bool {
	if stats, ok := pongStats(data); ok {
		s.conn.Pong(stats)
		return true
	}
	env, err := readEnvelope(data)
	if err != nil {
		s.conn.Close(sfu.CloseReason{Code: CloseCodeError, Reason: ReasonInvalidJSON})
		s.closeOnReadError(err)
		return false
	}
	switch env.Type {
	case "answer", "re-answer":
		var m sdpMessage
		if err := json.Unmarshal(data, &m); err != nil || m.SDP == "" {
			return s.fail("INVALID-SDP")
		}
		return s.answer(m.SDP)
	case "candidate":
		var m candidateMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return s.fail("INVALID-CANDIDATE")
		}
		s.candidate(sfu.ICECandidate{
			Candidate: m.Candidate, SDPMid: m.SDPMid, SDPMLineIndex: m.SDPMLineIndex, UsernameFragment: m.UsernameFragment,
		})
	case "pong":
		s.conn.Pong(env.Stats) // optional: nil when absent
	case "disconnect":
		s.conn.Close(sfu.ReasonDisconnect)
		s.closeWith(websocket.StatusNormalClosure, "")
		return false
	case "connect":
		return s.fail(ReasonConnectExpected)
	default:
		// Unknown types are ignored, as Sora does.
	}
	return true
}

// answer applies the client's answer or re-answer.
func (s *session) answer(sdp string) bool {
	if err := s.conn.Answer(sdp); err != nil {
		s.h.log.Info("answer rejected", "err", err, "channel_id", s.conn.ChannelID(), "connection_id", s.conn.ID())
		if errors.Is(err, sfu.ErrNoOfferPending) {
			return s.fail(ReasonUnexpectedAnswer)
		}
		return s.fail("INVALID-SDP")
	}
	return true
}

func (s *session) candidate(c sfu.ICECandidate) {
	if err := s.conn.AddICECandidate(c); err != nil {
		s.h.log.Debug("candidate ignored", "err", err, "channel_id", s.conn.ChannelID(), "connection_id", s.conn.ID())
	}
}

// fail ends the connection and closes the socket with 4490 and reason.
func (s *session) fail(reason string) bool {
	s.conn.Close(sfu.CloseReason{Code: CloseCodeError, Reason: reason})
	s.closeWith(CloseCodeError, reason)
	return false
}

func readEnvelope(data []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return envelope{}, &protocolError{ReasonInvalidJSON}
	}
	return e, nil
}

func (s *session) closeOnReadError(err error) {
	var pe *protocolError
	if errors.As(err, &pe) {
		s.closeWith(CloseCodeError, pe.reason)
		return
	}
	s.ws.CloseNow()
}

// closeWith closes the socket with a close frame; codes that cannot be
// sent in one (1005, 1006) just drop it.
func (s *session) closeWith(code websocket.StatusCode, reason string) {
	if code == websocket.StatusNoStatusRcvd || code == websocket.StatusAbnormalClosure || code < 1000 {
		s.ws.CloseNow()
		return
	}
	if err := s.ws.Close(code, reason); err != nil {
		s.h.log.Debug("websocket close", "err", err)
	}
}

func (s *session) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("signaling: marshal: %w", err)
	}
	return s.writeWS(b)
}

func (s *session) writeWS(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return s.ws.Write(ctx, websocket.MessageText, b)
}

// readLoop reads messages until the socket fails or the session ends.
func (s *session) readLoop() {
	defer s.wg.Done()
	for {
		data, err := s.readMessage()
		if err == nil && s.msgLimit != nil && !s.msgLimit.Allow() {
			s.h.limits.closedMsgRate.Add(1)
			data, err = nil, &protocolError{ReasonMessageRateLimited}
		}
		select {
		case s.in <- inbound{data: data, err: err}:
		case <-s.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

func (s *session) readMessage() ([]byte, error) {
	typ, r, err := s.ws.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, &protocolError{ReasonBinaryMessage}
	}
	// Into the reader's buffer, then one copy of the exact size: io.ReadAll
	// would grow its buffer from 512 bytes for every message, and every
	// client's pong carries its stats (kilobytes) every ping interval.
	buf := bytes.NewBuffer(s.rbuf[:0])
	_, err = buf.ReadFrom(io.LimitReader(r, s.h.maxMessageSize+1))
	if b := buf.Bytes(); cap(b) <= maxKeptReadBuffer {
		s.rbuf = b
	}
	if err != nil {
		return nil, err
	}
	if int64(buf.Len()) > s.h.maxMessageSize {
		return nil, &protocolError{ReasonMessageTooLarge}
	}
	return bytes.Clone(buf.Bytes()), nil
}

// finish ends the connection (if any), the socket and the reader.
func (s *session) finish() {
	if s.conn != nil {
		s.conn.Close(sfu.ReasonTransportClosed)
	}
	close(s.quit)
	s.ws.CloseNow()
	s.wg.Wait()
}
