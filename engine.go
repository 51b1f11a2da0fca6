package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pion/ice/v4"

	"github.com/gosfu/sfu/datachannel"
	"github.com/gosfu/sfu/internal/codec"
	"github.com/gosfu/sfu/simulcast"
	"github.com/gosfu/sfu/stats"
)

// Engine is an SFU: it owns channels and the connections in them. Create
// one with New; it is safe for concurrent use.
type Engine struct {
	opts Options
	log  *slog.Logger
	pion *pionSetup // the UDP socket, its mux and batching, pion's settings

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool

	wg sync.WaitGroup // every goroutine the engine starts

	stats *stats.Collector // GetStatsReport counters

	observers  observers
	drain      drainState
	dcCounters datachannel.Counters // DataChannel messages and drops
}

// New returns an engine configured by opts. It panics only if the UDP
// socket cannot be opened; use NewEngine to get that as an error.
func New(opts Options) *Engine {
	e, err := NewEngine(opts)
	if err != nil {
		panic(err)
	}
	return e
}

// NewEngine is New returning an error instead of panicking.
func NewEngine(opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	for _, c := range opts.VideoCodecs {
		if _, ok := codec.VideoByName(c); !ok {
			return nil, fmt.Errorf("sfu: unknown video codec %q", c)
		}
	}
	if !slices.Contains(opts.VideoCodecs, opts.DefaultVideoCodec) {
		return nil, fmt.Errorf("sfu: default video codec %q is not in VideoCodecs", opts.DefaultVideoCodec)
	}
	p, err := newPionSetup(opts)
	if err != nil {
		return nil, fmt.Errorf("sfu: %w", err)
	}
	return &Engine{opts: opts, log: opts.Logger, pion: p, rooms: map[string]*room{}, stats: stats.NewCollector()}, nil
}

// UDPAddr returns the local address of the UDP socket all peers share.
func (e *Engine) UDPAddr() string {
	if addrs := e.pion.mux.GetListenAddresses(); len(addrs) > 0 {
		return addrs[0].String()
	}
	return ""
}

// Close disconnects every connection and releases the UDP socket. It
// waits for the engine's goroutines to end or for ctx to be done.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	var conns []*Connection
	for _, r := range e.rooms {
		conns = append(conns, r.all()...)
	}
	e.mu.Unlock()

	for _, c := range conns {
		c.Close(ReasonShutdown)
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cerr := e.pion.mux.Close(); cerr != nil && err == nil && !errors.Is(cerr, ice.ErrClosed) {
		err = cerr
	}
	return err
}

// Channel returns a handle on the channel named id. The channel exists
// while it has connections; the handle's methods return ErrChannelNotFound
// otherwise.
func (e *Engine) Channel(id string) *Channel { return &Channel{engine: e, id: id} }

// Channels returns the channels that have connections, sorted by id.
func (e *Engine) Channels() []*Channel {
	e.mu.Lock()
	ids := make([]string, 0, len(e.rooms))
	for id := range e.rooms {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	sort.Strings(ids)
	out := make([]*Channel, len(ids))
	for i, id := range ids {
		out[i] = e.Channel(id)
	}
	return out
}

func (e *Engine) room(id string) *room {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rooms[id]
}

// join adds c to its channel, creating the channel if needed.
func (e *Engine) join(c *Connection) (*room, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if e.drain.active {
		return nil, errDrainingRejected
	}
	r := e.rooms[c.channelID]
	if r == nil {
		if len(e.rooms) >= e.opts.MaxChannels {
			return nil, fmt.Errorf("%w: %d channels", ErrLimitExceeded, e.opts.MaxChannels)
		}
		r = newRoom(e, c.channelID, c)
		e.rooms[c.channelID] = r
		e.stats.SessionCreated()
		// Under e.mu, so a channel's sessions are observed in order.
		e.observe(LifecycleEvent{Kind: SessionCreated, Time: r.createdAt, ChannelID: r.id, SessionID: r.sessionID})
	}
	if err := r.admits(c); err != nil {
		return nil, err
	}
	if err := r.add(c, e.opts.MaxConnectionsPerChannel); err != nil {
		return nil, err
	}
	e.stats.ConnectionCreated()
	return r, nil
}

// leave removes an empty room. Called by the room with no room lock held.
func (e *Engine) dropIfEmpty(r *room) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rooms[r.id] == r && r.empty() {
		delete(e.rooms, r.id)
		e.stats.SessionDestroyed()
		e.observe(LifecycleEvent{Kind: SessionDestroyed, ChannelID: r.id, SessionID: r.sessionID,
			Duration: time.Since(r.createdAt)})
		if len(e.rooms) == 0 {
			e.drain.idleLocked()
		}
		if r.spot != nil {
			close(r.spot.stop)
		}
	}
}

// go runs f on a goroutine the engine waits for in Close.
func (e *Engine) goTracked(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// validate checks a connect request and fills its defaults.
func (e *Engine) validate(req *ConnectRequest) error {
	switch {
	case req.ChannelID == "":
		return missing("channel_id")
	case !validID(req.ChannelID):
		return invalid("channel_id", "must be 1-%d printable characters", DefaultMaxIDLength)
	case req.Role == "":
		return missing("role")
	case !req.Role.valid():
		return invalid("role", "%q is not sendrecv, sendonly or recvonly", req.Role)
	case req.ClientID != "" && !validID(req.ClientID):
		return invalid("client_id", "must be 1-%d printable characters", DefaultMaxIDLength)
	case req.BundleID != "" && !validID(req.BundleID):
		return invalid("bundle_id", "must be 1-%d printable characters", DefaultMaxIDLength)
	case len(req.Metadata) > e.opts.MaxMetadataSize:
		return invalid("metadata", "larger than %d bytes", e.opts.MaxMetadataSize)
	case len(req.SignalingNotifyMetadata) > e.opts.MaxMetadataSize:
		return invalid("signaling_notify_metadata", "larger than %d bytes", e.opts.MaxMetadataSize)
	case len(req.Metadata) > 0 && !json.Valid(req.Metadata):
		return invalid("metadata", "not valid JSON")
	case len(req.SignalingNotifyMetadata) > 0 && !json.Valid(req.SignalingNotifyMetadata):
		return invalid("signaling_notify_metadata", "not valid JSON")
	}
	if req.SimulcastRID == "" {
		req.SimulcastRID = e.opts.DefaultSimulcastRID
	} else if _, err := simulcast.ParseRID(req.SimulcastRID); err != nil {
		return invalid("simulcast_rid", "%q is not r0, r1 or r2", req.SimulcastRID)
	}
	if err := e.validateSpotlight(req); err != nil {
		return err
	}
	if req.Audio.CodecType != "" && normalizeCodec(req.Audio.CodecType) != codec.Opus.Name {
		return invalid("audio.codec_type", "%q is not supported (OPUS)", req.Audio.CodecType)
	}
	if req.Video.CodecType != "" {
		name := normalizeCodec(req.Video.CodecType)
		if !slices.Contains(e.opts.VideoCodecs, name) {
			return invalid("video.codec_type", "%q is not one of %v", req.Video.CodecType, e.opts.VideoCodecs)
		}
		req.Video.CodecType = name
	} else {
		req.Video.CodecType = e.opts.DefaultVideoCodec
	}
	if err := e.validateDataChannels(req); err != nil {
		return err
	}
	if req.Role.Sends() && req.Audio.Disabled && req.Video.Disabled && !e.dataChannelSignaling(req) {
		return invalid("role", "%s with audio and video both false sends nothing", req.Role)
	}
	return nil
}

// validID accepts 1-255 bytes of printable UTF-8 without control
// characters.
func validID(s string) bool {
	if len(s) == 0 || len(s) > DefaultMaxIDLength || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
