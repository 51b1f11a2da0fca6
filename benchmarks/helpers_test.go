package benchmarks

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
)

const payloadSize = 1200

var vp8 = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	PayloadType:        96,
}

// subWriter stands in for a subscriber's transport below pion's
// TrackLocalWriter: it marshals the packet into a per-subscriber buffer,
// and with SRTP seals it there with AES-128-GCM (what pion/srtp's
// SessionSRTP.writeRTP does, minus the socket).
type subWriter struct {
	ctx *srtp.Context
	buf [1500]byte
	out [1500]byte
	n   int
}

func newSubWriter(gcm bool) *subWriter {
	w := &subWriter{}
	if gcm {
		var err error
		// Fixed keys: the cost does not depend on their value.
		w.ctx, err = srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
		if err != nil {
			panic(err)
		}
	}
	return w
}

func (w *subWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	hn, err := h.MarshalTo(w.buf[:])
	if err != nil {
		return 0, err
	}
	n := hn + copy(w.buf[hn:], payload)
	if w.ctx == nil {
		w.n = n
		return n, nil
	}
	out, err := w.ctx.EncryptRTP(w.out[:0], w.buf[:n], h)
	w.n = len(out)
	return len(out), err
}

func (w *subWriter) Write(b []byte) (int, error) { return len(b), nil }

// bindCtx is the webrtc.TrackLocalContext pion hands a track when a
// subscriber's sender starts.
type bindCtx struct {
	id   string
	ssrc webrtc.SSRC
	w    *subWriter
	exts []webrtc.RTPHeaderExtensionParameter
}

func (c *bindCtx) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{vp8}
}
func (c *bindCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return c.exts }
func (c *bindCtx) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c *bindCtx) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *bindCtx) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *bindCtx) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c *bindCtx) ID() string                                             { return c.id }
func (c *bindCtx) RTCPReader() interceptor.RTCPReader                     { return nil }

func newCtx(i int, gcm bool) *bindCtx {
	return &bindCtx{id: fmt.Sprint("sub", i), ssrc: webrtc.SSRC(1000 + i), w: newSubWriter(gcm)}
}

// stream produces a publisher's VP8 packets in one reused buffer: a key
// frame every keyEvery packets (0: only the first), 1200-byte payloads,
// sequence numbers and timestamps advancing like a 30 fps stream of
// 3-packet frames.
type stream struct {
	buf      []byte
	sn       uint16
	ts       uint32
	n        int
	keyEvery int
}

func newStream(ssrc uint32, keyEvery int) *stream {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: ssrc}, Payload: make([]byte, payloadSize)}
	p.Payload[0] = 0x10 // VP8 descriptor: S=1, PID=0
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	return &stream{buf: b, keyEvery: keyEvery}
}

// next returns the next packet (the same buffer, rewritten).
func (s *stream) next() []byte {
	key := s.n == 0 || (s.keyEvery > 0 && s.n%s.keyEvery == 0)
	s.n++
	s.sn++
	if s.n%3 == 0 {
		s.ts += 3000
	}
	binary.BigEndian.PutUint16(s.buf[2:], s.sn)
	binary.BigEndian.PutUint32(s.buf[4:], s.ts)
	if key {
		s.buf[13] = 0x00 // VP8 payload header P=0: key frame
	} else {
		s.buf[13] = 0x01
	}
	return s.buf
}

// gosfuFanout is one Source with n bound down-tracks.
func gosfuFanout(tb testing.TB, n int, gcm bool) (*forward.Source, []*forward.DownTrack) {
	src := forward.NewSource(forward.SourceConfig{ID: "v", StreamID: "pub", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo, RequestKeyFrame: func() {}, RequestRetransmit: func([]rtcp.NackPair) {}})
	dts := make([]*forward.DownTrack, n)
	for i := range dts {
		dts[i] = bindDownTrack(tb, src, newCtx(i, gcm))
	}
	return src, dts
}

// egressFanout is one Source with n down-tracks that seal through the
// engine's SRTP egress (AES-128-GCM), as the engine's subscribers do,
// each writing to a socket that drops the packets.
func egressFanout(tb testing.TB, n int) *forward.Source {
	src := forward.NewSource(forward.SourceConfig{ID: "v", StreamID: "pub", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo, RequestKeyFrame: func() {}, RequestRetransmit: func([]rtcp.NackPair) {}})
	out := &dropWriter{slots: make([]byte, dropSlots*dropSlotSize)}
	for i := range n {
		e := forward.NewEgress(out)
		// Fixed keys: the cost does not depend on their value.
		if err := e.Start(srtp.ProtectionProfileAeadAes128Gcm, make([]byte, 16), make([]byte, 12), netip.MustParseAddrPort("127.0.0.1:9")); err != nil {
			tb.Fatal(err)
		}
		// transport-cc negotiated, as with every browser: the egress
		// numbers each packet.
		ctx := newCtx(i, false)
		ctx.exts = []webrtc.RTPHeaderExtensionParameter{{URI: forward.TransportCCURI, ID: 3}}
		bindDownTrackEgress(tb, src, ctx, e)
	}
	return src
}

// dropWriter is a socket that drops what it is given. Like the engine's
// batching conn (internal/udpbatch), which one egress per subscriber
// shares, it has the egress seal straight into its send slots: a ring of
// them, reused round and round as a batch reuses its slots.
type dropWriter struct {
	slots []byte
	next  int
}

const dropSlots, dropSlotSize = 1024, 1500

func (*dropWriter) WriteToAddrPort(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }

func (d *dropWriter) WriteToAddrPortFunc(_ netip.AddrPort, fill func([]byte) (int, error)) (int, error) {
	i := d.next * dropSlotSize
	d.next = (d.next + 1) % dropSlots
	return fill(d.slots[i : i+dropSlotSize])
}

func bindDownTrack(tb testing.TB, src *forward.Source, ctx *bindCtx) *forward.DownTrack {
	return bindDownTrackEgress(tb, src, ctx, nil)
}

func bindDownTrackEgress(tb testing.TB, src *forward.Source, ctx *bindCtx, e *forward.Egress) *forward.DownTrack {
	dt := forward.NewDownTrack(src)
	if e != nil {
		dt.SetEgress(e)
	}
	if _, err := dt.Bind(ctx); err != nil {
		tb.Fatal(err)
	}
	src.AddDownTrack(dt)
	return dt
}

// pionFanout is the baseline someone embedding pion directly writes: one
// TrackLocalStaticRTP bound to n subscribers, fed with Write(raw packet).
func pionFanout(tb testing.TB, n int, gcm bool) *webrtc.TrackLocalStaticRTP {
	tr, err := webrtc.NewTrackLocalStaticRTP(vp8.RTPCodecCapability, "v", "pub")
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if _, err := tr.Bind(newCtx(i, gcm)); err != nil {
			tb.Fatal(err)
		}
	}
	return tr
}
