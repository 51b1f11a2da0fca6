package main

import (
	"sync"
	"sync/atomic"

	"github.com/gosfu/sfu/client"
	"github.com/pion/webrtc/v4"
)

// readBufferSize fits any RTP packet the server forwards.
const readBufferSize = 1500

// subscriber receives every publisher of its channel. streams holds one
// entry per (publisher of the channel, kind).
type subscriber struct {
	base      uint32 // global index of the channel's first publisher
	npub      uint32
	self      int32 // all-to-all: the publisher it is (its own streams never come); -1 otherwise
	streams   []stream
	malformed atomic.Uint64 // packets without a valid probe
	foreign   atomic.Uint64 // probes of a publisher outside the channel
	tracks    atomic.Int64  // tracks being read
	readers   *readerSet
}

func newSubscriber(base, npub uint32, rs *readerSet) *subscriber {
	return &subscriber{base: base, npub: npub, self: -1, streams: make([]stream, 2*npub), readers: rs}
}

// counted reports whether streams[i] is expected to receive anything.
func (s *subscriber) counted(i int) bool { return int32(i/2) != s.self }

// streamFor returns the stream of publisher pub and kind, or nil.
func (s *subscriber) streamFor(pub uint32, kind byte) *stream {
	if pub < s.base || pub-s.base >= s.npub {
		return nil
	}
	i := 2 * (pub - s.base)
	if kind == kindAudio {
		i++
	} else if kind != kindVideo {
		return nil
	}
	return &s.streams[i]
}

// onTrack reads one remote track until it ends (the client was closed).
// It is the client's Config.OnTrack and runs in a goroutine of its own.
func (s *subscriber) onTrack(t *client.RemoteTrack) {
	if !s.readers.add() {
		return
	}
	defer s.readers.done()
	s.tracks.Add(1)
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	buf := make([]byte, readBufferSize)
	var cur *stream
	var curPub uint32
	for {
		n, _, err := t.Track.Read(buf)
		if err != nil {
			return
		}
		now := monoNow()
		payload, ok := rtpPayload(buf[:n])
		if !ok || len(payload) == 0 {
			s.malformed.Add(1)
			continue
		}
		off, key := opusHeaderLen, false
		if video {
			if off, key, ok = vp8ProbeOffset(payload); !ok {
				s.malformed.Add(1)
				continue
			}
		}
		if off > len(payload) {
			s.malformed.Add(1)
			continue
		}
		p, ok := readProbe(payload[off:])
		if !ok || (p.kind == kindVideo) != video {
			s.malformed.Add(1)
			continue
		}
		if cur == nil || p.pub != curPub {
			if cur = s.streamFor(p.pub, p.kind); cur == nil {
				s.foreign.Add(1)
				continue
			}
			curPub = p.pub
		}
		cur.record(p.counter, p.sent, now, key, buf[1]&0x80 != 0)
	}
}

// readerSet tracks the track readers so that Run returns only after all
// of them ended. Once closed it refuses new readers.
type readerSet struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (r *readerSet) add() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.wg.Add(1)
	return true
}

func (r *readerSet) done() { r.wg.Done() }

// closeAndWait refuses new readers and waits for the running ones; the
// clients must be closed first so that their reads fail.
func (r *readerSet) closeAndWait() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
}
