package forward

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// MaxPacketSize bounds the size of one RTP packet read from a publisher.
const MaxPacketSize = 1500

// DefaultKeyFrameInterval is the minimum time between two key-frame
// requests sent upstream for one source.
const DefaultKeyFrameInterval = 500 * time.Millisecond

// DefaultKeyFrameWait is the default SourceConfig.KeyFrameWait.
const DefaultKeyFrameWait = 2 * time.Second

// PacketReader is what a [Source] reads from: pion's *webrtc.TrackRemote
// satisfies it.
type PacketReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// SourceConfig describes one published RTP stream.
type SourceConfig struct {
	// ID is the track id announced to subscribers (the msid track id).
	ID string
	// StreamID is the msid stream id: the publisher's connection id.
	StreamID string
	// RID is the simulcast layer this source carries, "" without simulcast.
	RID string
	// Codec is the codec the publisher sends.
	Codec webrtc.RTPCodecParameters
	// Kind is audio or video.
	Kind webrtc.RTPCodecType
	// RequestKeyFrame asks the publisher for a key frame (a PLI). It is
	// called at most once per KeyFrameInterval. May be nil.
	RequestKeyFrame func()
	// KeyFrameInterval throttles RequestKeyFrame (default
	// DefaultKeyFrameInterval).
	KeyFrameInterval time.Duration
	// RequestRetransmit, if not nil, asks the publisher again for the
	// packets of this stream it skipped (a generic NACK with these
	// pairs), on the reader's goroutine: it must not block. See nack.go.
	RequestRetransmit func(pairs []rtcp.NackPair)
	// NACKRetryInterval is the time between two NACKs for the same
	// packet (default DefaultNACKRetryInterval).
	NACKRetryInterval time.Duration
	// KeyFrameWait bounds how long a down-track that starts or resumes
	// waits for a key frame it can recognise before forwarding anyway
	// (default DefaultKeyFrameWait), so that a publisher whose key frames
	// we fail to detect still reaches its subscribers.
	KeyFrameWait time.Duration
	// Batch, if not nil, is the batching socket under the down-tracks'
	// writes: each packet's fan-out is one run of it.
	Batch Batch
	// AudioLevel, if not nil, is given the first byte of the RFC 6464
	// audio-level extension (voice flag and level) of every packet that
	// carries it, under the id AudioLevelID negotiated with the
	// publisher.
	AudioLevel   AudioLevelSink
	AudioLevelID uint8
	// HistorySize is the number of recent packets kept to answer NACKs:
	// 0 means DefaultHistorySize for video and none for audio, negative
	// means none.
	HistorySize int
}

// AudioLevelSink takes the audio levels of a published stream, one call
// per packet on the forwarding path: it must not block or allocate
// (spotlight.Meter is one).
type AudioLevelSink interface {
	AddLevel(level uint8)
}

// Batch is a socket that queues writes and sends them together
// (internal/udpbatch). A [Source] brackets the fan-out of each packet with
// Begin and End.
type Batch interface {
	// Begin opens a run of writes that End closes.
	Begin()
	// End closes the run. With flush false the queued writes may wait for
	// the next run, so that packets of one burst to the same receiver
	// leave together; the socket bounds that wait.
	End(flush bool)
}

// burstIdle is how long the reader may have waited for a packet for it
// still to count as queued behind the previous one (part of a burst).
const burstIdle = 100 * time.Microsecond

// packet is the parsed form of the packet being forwarded. The Source
// owns one and reuses it; down-tracks read it during the fan-out only.
type packet struct {
	sn       uint16 // after removing padding-only packets
	ts       uint32
	marker   bool
	keyFrame bool
	at       int64 // arrival, monotonic nanoseconds (monoNow)
	payload  []byte
	padding  int // RTP padding at the end of payload (equalize)
}

// Source is one published RTP stream. Its Run loop reads packets into a
// reused buffer and writes each one to every attached [DownTrack].
type Source struct {
	cfg       SourceConfig
	codec     codecKind
	clockRate uint32

	mu         sync.Mutex // serialises copy-on-write of downTracks
	downTracks atomic.Pointer[[]*DownTrack]

	lastKeyFrameRequest atomic.Int64 // monoNow nanoseconds

	// stateMu guards hist and stats. The reader holds it per packet for a
	// payload copy; RTCP goroutines hold it for a lookup or a report.
	// Neither does anything slow under it.
	stateMu sync.Mutex
	hist    *history
	stats   recvStats

	// inMu serialises packets: Run's and an Ingress's (during the
	// hand-over of a stream, both have some). It guards the fields below.
	inMu       sync.Mutex
	hdr        rtp.Header
	pkt        packet
	seqDelta   uint16       // dropped padding-only packets so far
	lastDone   int64        // monoNow after the previous fan-out, with cfg.Batch
	frameTS    uint32       // timestamp of the previous packet, with cfg.Batch
	bursty     bool         // the previous frame's packets came queued, with cfg.Batch
	held       bool         // the previous packet's writes were left in the batch
	frameSizes frameSizes   // of the current frame, for equalize, with cfg.Batch
	nack       *nackTracker // with cfg.RequestRetransmit
	packets    atomic.Uint64
	bytes      atomic.Uint64
	keys       atomic.Uint64

	sinks   sinks      // consumers other than down-tracks (sink.go)
	sinkPkt SinkPacket // handed to them, under inMu
}

// NewSource returns a source with no down-tracks.
func NewSource(cfg SourceConfig) *Source {
	if cfg.KeyFrameInterval <= 0 {
		cfg.KeyFrameInterval = DefaultKeyFrameInterval
	}
	if cfg.KeyFrameWait <= 0 {
		cfg.KeyFrameWait = DefaultKeyFrameWait
	}
	s := &Source{cfg: cfg, codec: codecKindOf(cfg.Codec.MimeType), clockRate: cfg.Codec.ClockRate}
	if s.clockRate == 0 {
		s.clockRate = 90000
	}
	size := cfg.HistorySize
	if size == 0 && cfg.Kind == webrtc.RTPCodecTypeVideo {
		size = DefaultHistorySize
	}
	if size > 0 {
		s.hist = newHistory(size)
	}
	if cfg.RequestRetransmit != nil {
		if cfg.NACKRetryInterval <= 0 {
			cfg.NACKRetryInterval = DefaultNACKRetryInterval
		}
		s.nack = newNACKTracker(cfg.NACKRetryInterval)
	}
	s.downTracks.Store(&[]*DownTrack{})
	// No key-frame request has been sent: the first one is not throttled.
	s.lastKeyFrameRequest.Store(monoNow() - int64(cfg.KeyFrameInterval))
	return s
}

// ID returns the track id.
func (s *Source) ID() string { return s.cfg.ID }

// StreamID returns the msid stream id (the publisher's connection id).
func (s *Source) StreamID() string { return s.cfg.StreamID }

// RID returns the simulcast layer, "" without simulcast.
func (s *Source) RID() string { return s.cfg.RID }

// Kind returns audio or video.
func (s *Source) Kind() webrtc.RTPCodecType { return s.cfg.Kind }

// Codec returns the publisher's codec.
func (s *Source) Codec() webrtc.RTPCodecParameters { return s.cfg.Codec }

// Packets returns the number of RTP packets read so far.
func (s *Source) Packets() uint64 { return s.packets.Load() }

// Bytes returns the number of RTP bytes read so far.
func (s *Source) Bytes() uint64 { return s.bytes.Load() }

// KeyFrames returns the number of key frames seen so far.
func (s *Source) KeyFrames() uint64 { return s.keys.Load() }

// Run reads from r until it fails, forwarding every packet. It returns nil
// when r reached its end (the publisher left).
func (s *Source) Run(r PacketReader) error {
	buf := make([]byte, MaxPacketSize)
	for {
		n, _, err := r.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		s.deliver(buf[:n]) // buf's spare capacity is free for padding
	}
}

// WritePacket parses one RTP packet in place and forwards it to every
// down-track. The packet is not retained (the history keeps a copy).
func (s *Source) WritePacket(pkt []byte) { s.deliver(pkt[:len(pkt):len(pkt)]) }

// deliver is WritePacket, free to pad the packet in place within
// cap(pkt) (see equalize).
func (s *Source) deliver(pkt []byte) {
	s.inMu.Lock()
	s.writePacket(pkt)
	s.inMu.Unlock()
}

// writePacket is deliver under s.inMu.
func (s *Source) writePacket(pkt []byte) {
	hl, err := s.hdr.Unmarshal(pkt)
	if err != nil {
		return
	}
	at := monoNow()
	end := len(pkt)
	if s.hdr.Padding {
		if end == hl {
			return
		}
		pad := int(pkt[end-1])
		if pad == 0 || end-pad < hl {
			return
		}
		end -= pad
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(pkt)))
	if s.nack != nil {
		s.trackLoss(s.hdr.SequenceNumber, at)
	}
	if s.cfg.AudioLevel != nil && s.hdr.Extension {
		if e := s.hdr.GetExtension(s.cfg.AudioLevelID); len(e) > 0 {
			s.cfg.AudioLevel.AddLevel(e[0])
		}
	}
	p := &s.pkt
	p.payload, p.padding = pkt[hl:end], 0
	p.ts, p.marker, p.at = s.hdr.Timestamp, s.hdr.Marker, at
	p.sn = s.hdr.SequenceNumber - s.seqDelta
	p.keyFrame = isKeyFrame(s.codec, p.payload)

	s.stateMu.Lock()
	s.stats.update(s.hdr.SSRC, s.hdr.SequenceNumber, s.hdr.Timestamp, at, s.clockRate)
	if s.hist != nil && len(p.payload) > 0 {
		s.hist.put(p.sn, p.ts, p.marker, p.payload)
	}
	s.stateMu.Unlock()

	if len(p.payload) == 0 {
		// Padding only (bandwidth probing): not forwarded, and later
		// sequence numbers close the gap it would leave.
		s.seqDelta++
		return
	}
	if p.keyFrame {
		s.keys.Add(1)
	}
	s.toSinks(p) // before equalize pads the payload
	if s.cfg.Batch == nil {
		s.fanOut(p)
		return
	}
	hold := s.holdable(p)
	if s.cfg.Kind == webrtc.RTPCodecTypeVideo {
		// After the history took its copy: NACK answers go unpadded.
		s.equalize(p, pkt, end, hold || s.held)
	}
	s.held = hold
	s.cfg.Batch.Begin()
	s.fanOut(p)
	s.cfg.Batch.End(!hold)
	s.lastDone = monoNow()
}

// trackLoss notes sn's arrival and sends the NACKs that are due.
func (s *Source) trackLoss(sn uint16, at int64) {
	s.nack.push(sn, at)
	if sns := s.nack.collect(at); sns != nil {
		s.cfg.RequestRetransmit(nackPairs(sns))
	}
}

// fanOut writes p to every down-track. Inline: no hand-off to other
// goroutines, so an idle subscriber costs nothing and a packet is never
// queued.
func (s *Source) fanOut(p *packet) {
	for _, d := range *s.downTracks.Load() {
		d.writeRTP(s, p)
	}
}

// holdable reports whether p's writes may wait in the batch for the next
// packet, so that the packets of a frame to each receiver leave together
// (UDP GSO): p is video and not the last packet of its frame, and the
// rest of the frame is most likely queued already. It is if p itself was
// queued when the previous fan-out ended; for the first packet of a
// frame, which finds the reader idle, if the publisher sent its previous
// frame in one burst. A publisher that paces its packets (as browsers
// do) gets its packets sent at once.
func (s *Source) holdable(p *packet) bool {
	if s.cfg.Kind != webrtc.RTPCodecTypeVideo {
		return false
	}
	first := p.ts != s.frameTS
	s.frameTS = p.ts
	queued := p.at-s.lastDone < int64(burstIdle)
	if !first {
		s.bursty = queued
	}
	return !p.marker && (queued || first && s.bursty)
}

// AddDownTrack attaches d; it receives packets from the next one on.
// Attaching an attached down-track does nothing.
func (s *Source) AddDownTrack(d *DownTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.downTracks.Load()
	for _, x := range old {
		if x == d {
			return
		}
	}
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	s.downTracks.Store(&next)
}

// RemoveDownTrack detaches d. It reports whether d was attached.
func (s *Source) RemoveDownTrack(d *DownTrack) bool {
	return s.removeDownTrackIf(d, func() bool { return true })
}

// removeDownTrackIf detaches d if cond, evaluated under s.mu, holds.
func (s *Source) removeDownTrackIf(d *DownTrack, cond func() bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.downTracks.Load()
	for i, x := range old {
		if x == d {
			if !cond() {
				return false
			}
			next := make([]*DownTrack, 0, len(old)-1)
			next = append(next, old[:i]...)
			next = append(next, old[i+1:]...)
			s.downTracks.Store(&next)
			return true
		}
	}
	return false
}

// DownTracks returns the number of attached down-tracks.
func (s *Source) DownTracks() int { return len(*s.downTracks.Load()) }

// RequestKeyFrame asks the publisher for a key frame, at most once per
// KeyFrameInterval. Audio sources ignore it.
func (s *Source) RequestKeyFrame() {
	if s.cfg.Kind != webrtc.RTPCodecTypeVideo || s.cfg.RequestKeyFrame == nil {
		return
	}
	now := monoNow()
	last := s.lastKeyFrameRequest.Load()
	if now-last < int64(s.cfg.KeyFrameInterval) {
		return
	}
	if s.lastKeyFrameRequest.CompareAndSwap(last, now) {
		s.cfg.RequestKeyFrame()
	}
}

// fromHistory copies packet sn (a forwarded sequence number) into dst.
func (s *Source) fromHistory(sn uint16, dst []byte) (n int, ts uint32, marker, ok bool) {
	if s.hist == nil {
		return 0, 0, false, false
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.hist.get(sn, dst)
}

// epoch anchors monoNow. time.Since on a time with a monotonic reading
// reads only the monotonic clock, which is cheaper than time.Now.
var epoch = time.Now()

// monoNow returns monotonic nanoseconds since process start.
func monoNow() int64 { return int64(time.Since(epoch)) }
