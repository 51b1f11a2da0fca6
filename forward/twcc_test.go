package forward

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// twccFixture is two video down-tracks of one subscriber connection
// (one egress) that negotiated transport-cc with id 5.
type twccFixture struct {
	srcs   [2]*Source
	egress *Egress
	sn     [2]uint16
	pkts   [2][]byte
}

const twccTestID = 5

func newTWCCFixture(t *testing.T) (*twccFixture, *srtp.Context, func() []byte) {
	t.Helper()
	rx := listenLoopback(t)
	f := &twccFixture{egress: NewEgress(UDPConnWriter(listenLoopback(t)))}
	if err := f.egress.Start(egressProfile, egressKey, egressSalt, addrOf(rx)); err != nil {
		t.Fatal(err)
	}
	for i := range f.srcs {
		f.srcs[i] = NewSource(SourceConfig{ID: "v" + string(rune('0'+i)), StreamID: "pub", Codec: vp8,
			Kind: webrtc.RTPCodecTypeVideo, RequestKeyFrame: func() {}, KeyFrameInterval: time.Nanosecond})
		dt := NewDownTrack(f.srcs[i])
		dt.SetEgress(f.egress)
		ctx := &bindCtx{ssrc: webrtc.SSRC(900 + i), pt: 120, writer: &recorder{},
			exts: []webrtc.RTPHeaderExtensionParameter{{URI: TransportCCURI, ID: twccTestID}}}
		if _, err := dt.Bind(ctx); err != nil {
			t.Fatal(err)
		}
		f.srcs[i].AddDownTrack(dt)
	}
	dec, err := srtp.CreateContext(egressKey, egressSalt, egressProfile)
	if err != nil {
		t.Fatal(err)
	}
	read := func() []byte {
		t.Helper()
		p := readSRTP(t, rx, dec)
		if !p.Extension || p.ExtensionProfile != 0xBEDE {
			t.Fatalf("packet ssrc %d: no one-byte header extension", p.SSRC)
		}
		return p.GetExtension(twccTestID)
	}
	return f, dec, read
}

// write sends the next packet of source i: a key frame, then the same
// packet with the sequence number advanced (no allocation of its own).
func (f *twccFixture) write(i int) {
	f.sn[i]++
	if f.pkts[i] == nil {
		f.pkts[i] = vp8Packet(f.sn[i], 0, true, uint32(i))
	}
	binary.BigEndian.PutUint16(f.pkts[i][2:], f.sn[i])
	f.srcs[i].WritePacket(f.pkts[i])
}

// TestEgressTransportWideSequence: packets of all the connection's
// down-tracks carry one transport-wide sequence, in sending order, which
// the subscriber's transport-cc feedback refers to.
func TestEgressTransportWideSequence(t *testing.T) {
	f, _, read := newTWCCFixture(t)
	for k := range 6 {
		f.write(k % 2)
	}
	for want := range uint16(6) {
		ext := read()
		if len(ext) != 2 || binary.BigEndian.Uint16(ext) != want {
			t.Fatalf("packet %d: transport-cc extension %x, want sequence %d", want, ext, want)
		}
	}
	if got := f.egress.TransportSeqSent(); got != 6 {
		t.Errorf("TransportSeqSent = %d, want 6", got)
	}
	// Each numbered packet's send is recorded for the feedback, in order.
	var last time.Duration
	for seq := range uint16(6) {
		at, size, ok := f.egress.TransportSent(seq)
		if !ok || size != 100+WireOverhead || at < last {
			t.Errorf("TransportSent(%d) = %v, %d, %v; want a time not before %v, %d bytes", seq, at, size, ok, last, 100+WireOverhead)
		}
		last = at
	}
	if _, _, ok := f.egress.TransportSent(6); ok {
		t.Error("TransportSent(6): recorded before it was sent")
	}
}

// TestEgressTransportWideSequenceZeroAllocs: numbering costs no
// allocation per packet.
func TestEgressTransportWideSequenceZeroAllocs(t *testing.T) {
	f, _, read := newTWCCFixture(t)
	f.write(0)
	f.write(1) // first packets: SRTP contexts and buffers are made here
	k := 0
	if allocs := testing.AllocsPerRun(500, func() { f.write(k % 2); k++ }); allocs != 0 {
		t.Errorf("%v allocations per packet with transport-cc, want 0", allocs)
	}
	if got := f.egress.TransportSeqSent(); got < 502 {
		t.Errorf("TransportSeqSent = %d, want over 502", got)
	}
	if ext := read(); !bytes.Equal(ext, []byte{0, 0}) {
		t.Errorf("first packet's sequence %x, want 0000", ext)
	}
}
