package forward

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// MaxPacketSize bounds the size of one RTP packet read from a publisher.
const MaxPacketSize = 1500

// DefaultKeyFrameInterval is the minimum time between two key-frame
// requests sent upstream for one source.
const DefaultKeyFrameInterval = 500 * time.Millisecond

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
}

// Source is one published RTP stream. Its Run loop reads packets into a
// reused buffer and writes each one to every attached [DownTrack].
type Source struct {
	cfg SourceConfig

	mu         sync.Mutex // serialises copy-on-write of downTracks
	downTracks atomic.Pointer[[]*DownTrack]

	lastKeyFrameRequest atomic.Int64 // unix nanoseconds

	// Used only by the goroutine that calls Run or WritePacket.
	hdr      rtp.Header
	seqDelta uint16 // dropped padding-only packets so far
	packets  atomic.Uint64
	bytes    atomic.Uint64
}

// NewSource returns a source with no down-tracks.
func NewSource(cfg SourceConfig) *Source {
	if cfg.KeyFrameInterval <= 0 {
		cfg.KeyFrameInterval = DefaultKeyFrameInterval
	}
	s := &Source{cfg: cfg}
	s.downTracks.Store(&[]*DownTrack{})
	return s
}

// ID returns the track id.
func (s *Source) ID() string { return s.cfg.ID }

// StreamID returns the msid stream id (the publisher's connection id).
func (s *Source) StreamID() string { return s.cfg.StreamID }

// Kind returns audio or video.
func (s *Source) Kind() webrtc.RTPCodecType { return s.cfg.Kind }

// Codec returns the publisher's codec.
func (s *Source) Codec() webrtc.RTPCodecParameters { return s.cfg.Codec }

// Packets returns the number of RTP packets read so far.
func (s *Source) Packets() uint64 { return s.packets.Load() }

// Bytes returns the number of RTP bytes read so far.
func (s *Source) Bytes() uint64 { return s.bytes.Load() }

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
		s.WritePacket(buf[:n])
	}
}

// WritePacket parses one RTP packet in place and forwards it to every
// down-track. It must not be called concurrently with itself or Run. The
// packet is not retained.
func (s *Source) WritePacket(pkt []byte) {
	hl, err := s.hdr.Unmarshal(pkt)
	if err != nil {
		return
	}
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
		s.hdr.Padding = false
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(pkt)))
	if end == hl {
		// Padding only (bandwidth probing): not forwarded, and later
		// sequence numbers close the gap it would leave.
		s.seqDelta++
		return
	}
	s.hdr.SequenceNumber -= s.seqDelta
	payload := pkt[hl:end]
	for _, d := range *s.downTracks.Load() {
		d.writeRTP(&s.hdr, payload)
	}
}

// AddDownTrack attaches d; it receives packets from the next one on.
func (s *Source) AddDownTrack(d *DownTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.downTracks.Load()
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	s.downTracks.Store(&next)
}

// RemoveDownTrack detaches d. It reports whether d was attached.
func (s *Source) RemoveDownTrack(d *DownTrack) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.downTracks.Load()
	for i, x := range old {
		if x == d {
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
	now := time.Now().UnixNano()
	last := s.lastKeyFrameRequest.Load()
	if now-last < int64(s.cfg.KeyFrameInterval) {
		return
	}
	if s.lastKeyFrameRequest.CompareAndSwap(last, now) {
		s.cfg.RequestKeyFrame()
	}
}
