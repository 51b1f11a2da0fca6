package forward

import (
	"sync"
	"testing"

	"github.com/pion/rtcp"
)

type feedbackRecorder struct {
	mu  sync.Mutex
	fbs []*rtcp.TransportLayerCC
}

func (r *feedbackRecorder) TransportCC(fb *rtcp.TransportLayerCC) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fbs = append(r.fbs, fb)
}

func (r *feedbackRecorder) take() []*rtcp.TransportLayerCC {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.fbs
	r.fbs = nil
	return out
}

// sealedRTCP returns pkts marshalled and sealed by the peer's SRTCP
// context.
func (f *ingressFixture) sealedRTCP(t *testing.T, pkts ...rtcp.Packet) []byte {
	t.Helper()
	plain, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.seal.EncryptRTCP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIngressTakesTransportCC: with a feedback handler the ingress opens
// the connection's SRTCP, whatever SSRC it is addressed to: a packet of
// transport-cc feedback alone goes to the handler and not to pion; in a
// compound with anything else, the feedback goes to the handler and the
// packet to pion as well. Without a handler pion gets everything.
func TestIngressTakesTransportCC(t *testing.T) {
	f := newIngressFixture(t)
	rec := &feedbackRecorder{}
	f.in.SetFeedbackHandler(rec)
	fb := &rtcp.TransportLayerCC{SenderSSRC: 1, MediaSSRC: 0xdead, BaseSequenceNumber: 7, PacketStatusCount: 1,
		ReferenceTime: 3, FbPktCount: 9,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 1}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}}}

	// pion's TransportLayerCC marshals the Header it is given.
	fb.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback, Length: fb.Len()/4 - 1}
	f.send(t, f.pub, f.sealedRTCP(t, fb))
	f.sync(t)
	got := rec.take()
	if len(got) != 1 || got[0].MediaSSRC != 0xdead || got[0].BaseSequenceNumber != 7 || got[0].FbPktCount != 9 {
		t.Fatalf("handler got %+v, want the feedback", got)
	}
	if len(f.passed) != 0 {
		t.Fatalf("a feedback-only packet reached pion too")
	}

	compound := f.sealedRTCP(t, &rtcp.ReceiverReport{SSRC: 1}, fb)
	f.send(t, f.pub, compound)
	f.expectPassed(t, compound)
	if got := rec.take(); len(got) != 1 {
		t.Fatalf("compound with a receiver report: handler got %d feedbacks, want 1", len(got))
	}

	f.in.SetFeedbackHandler(nil)
	alone := f.sealedRTCP(t, fb)
	f.send(t, f.pub, alone)
	f.expectPassed(t, alone)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("without a handler: handler got %d feedbacks", len(got))
	}
}
