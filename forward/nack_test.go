package forward

import (
	"slices"
	"testing"
	"time"
)

func TestNACKTracker(t *testing.T) {
	const retry = int64(40 * time.Millisecond)
	ms := func(n int64) int64 { return 1_000_000_000 + n*int64(time.Millisecond) }
	type step struct {
		sn   uint16
		at   int64
		want []uint16 // asked for at this packet
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"in order asks for nothing", []step{{sn: 10, at: ms(0)}, {sn: 11, at: ms(1)}, {sn: 12, at: ms(2)}}},
		{"gap asked for at once", []step{{sn: 10, at: ms(0)}, {sn: 13, at: ms(1), want: []uint16{11, 12}}}},
		{"arrival ends the asking", []step{
			{sn: 10, at: ms(0)}, {sn: 12, at: ms(1), want: []uint16{11}},
			{sn: 11, at: ms(2)}, {sn: 13, at: ms(100)},
		}},
		{"retried after the interval, then given up", []step{
			{sn: 65534, at: ms(0)}, {sn: 1, at: ms(1), want: []uint16{65535, 0}}, // across the wrap
			{sn: 2, at: ms(20)}, {sn: 3, at: ms(41), want: []uint16{65535, 0}},
			{sn: 4, at: ms(81), want: []uint16{65535, 0}}, {sn: 5, at: ms(121), want: []uint16{65535, 0}},
			{sn: 6, at: ms(161)}, {sn: 7, at: ms(500)},
		}},
		{"duplicate and old packets ask for nothing", []step{{sn: 10, at: ms(0)}, {sn: 10, at: ms(1)}, {sn: 9, at: ms(2)}}},
		{"a jump past maxGap is a new start", []step{{sn: 10, at: ms(0)}, {sn: 10 + maxGap + 1, at: ms(1)}, {sn: 12 + maxGap, at: ms(2)}}},
		{"only the newest maxMissing are kept", []step{{sn: 0, at: ms(0)}, {sn: maxMissing + 11, at: ms(1), want: seq(11, maxMissing)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newNACKTracker(time.Duration(retry))
			for i, s := range tc.steps {
				tr.push(s.sn, s.at)
				got := tr.collect(s.at)
				if !slices.Equal(got, s.want) || (got == nil) != (s.want == nil) {
					t.Fatalf("step %d (sn %d): asked for %v, want %v", i, s.sn, got, s.want)
				}
			}
		})
	}
}

func seq(from, n int) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		out[i] = uint16(from + i)
	}
	return out
}

func TestNACKPairs(t *testing.T) {
	pairs := nackPairs([]uint16{100, 101, 116, 117})
	var got []uint16
	for _, p := range pairs {
		got = append(got, p.PacketList()...)
	}
	if !slices.Equal(got, []uint16{100, 101, 116, 117}) {
		t.Fatalf("pairs carry %v", got)
	}
}
