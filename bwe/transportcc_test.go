package bwe

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestFromTransportCC(t *testing.T) {
	fb := &rtcp.TransportLayerCC{
		BaseSequenceNumber: 65534, PacketStatusCount: 6, ReferenceTime: 2,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 2},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{
				rtcp.TypeTCCPacketNotReceived, rtcp.TypeTCCPacketReceivedLargeDelta, rtcp.TypeTCCPacketReceivedSmallDelta,
				rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedSmallDelta}},
		},
		RecvDeltas: []*rtcp.RecvDelta{
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 2000},
			{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -500},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
		},
	}
	// The engine recorded every sequence number but 1.
	sent := func(seq uint16) (time.Duration, int, bool) {
		return time.Duration(seq) * time.Millisecond, 1000 + int(seq), seq != 1
	}
	ref := 128 * time.Millisecond
	want := []Packet{
		{SentAt: 65534 * time.Millisecond, Size: 66534, Received: true, ArrivedAt: ref + time.Millisecond},
		{SentAt: 65535 * time.Millisecond, Size: 66535, Received: true, ArrivedAt: ref + 3*time.Millisecond},
		{SentAt: 0, Size: 1000},
		// seq 1 was not recorded: skipped, its delta still consumed.
		{SentAt: 2 * time.Millisecond, Size: 1002, Received: true, ArrivedAt: ref + 2750*time.Microsecond},
	}
	if got := FromTransportCC(nil, fb, sent); !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Statuses claiming more deltas than the feedback carries stop there.
	fb.RecvDeltas = fb.RecvDeltas[:1]
	if got := FromTransportCC(nil, fb, sent); len(got) != 1 {
		t.Errorf("one delta: %d packets, want 1", len(got))
	}
}
