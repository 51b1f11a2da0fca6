package forward

import (
	"time"

	"github.com/pion/rtcp"
)

// Upstream loss recovery: a source notes the sequence numbers its
// publisher skipped and asks for them again with generic NACKs (RFC 4585),
// as soon as the gap shows and then every NACKRetryInterval, up to
// nackTries times. A retransmission arrives as a late packet and is
// forwarded like any other, so every subscriber and sink gets it at once,
// and the history holds it for the subscribers' own NACKs.
const (
	// DefaultNACKRetryInterval is the default SourceConfig.NACKRetryInterval.
	DefaultNACKRetryInterval = 40 * time.Millisecond
	// nackTries bounds how often one sequence number is asked for.
	nackTries = 4
	// maxMissing bounds the sequence numbers waited for at once; a gap
	// that does not fit evicts the oldest.
	maxMissing = 128
	// maxGap is the largest jump still taken as loss; a larger one is a
	// new start of the stream (nothing in it is asked for).
	maxGap = 512
)

// nackTracker is a source's list of missing sequence numbers. Not safe for
// concurrent use: the source's reader owns it (under inMu). In-order
// packets cost one comparison and one check of due.
type nackTracker struct {
	started bool
	highest uint16
	due     int64 // monoNow when a NACK is next due; 0: nothing missing
	retry   int64
	n       int
	missing [maxMissing]missingSN
	sns     []uint16 // reused by collect
}

type missingSN struct {
	sn    uint16
	next  int64 // when to ask (again)
	tries uint8
}

func newNACKTracker(retry time.Duration) *nackTracker {
	return &nackTracker{retry: int64(retry), sns: make([]uint16, 0, maxMissing)}
}

// push records the arrival of sn at now: a gap is noted, a packet that
// fills one (a retransmission, or reordered) is no longer waited for.
func (t *nackTracker) push(sn uint16, now int64) {
	if !t.started {
		t.started, t.highest = true, sn
		return
	}
	d := int16(sn - t.highest)
	switch {
	case d == 1:
		t.highest = sn
	case d > 1 && int(d) <= maxGap:
		for s := t.highest + 1; s != sn; s++ {
			t.add(s, now)
		}
		t.highest = sn
	case d > 1:
		t.n, t.due, t.highest = 0, 0, sn // the stream started over
	case t.n > 0:
		t.remove(sn)
	}
}

func (t *nackTracker) add(sn uint16, now int64) {
	if t.n == maxMissing {
		t.evict(0)
	}
	t.missing[t.n] = missingSN{sn: sn, next: now}
	t.n++
	if t.due == 0 || now < t.due {
		t.due = now
	}
}

func (t *nackTracker) remove(sn uint16) {
	for i := 0; i < t.n; i++ {
		if t.missing[i].sn == sn {
			t.evict(i)
			return
		}
	}
}

// evict drops entry i, keeping the rest in arrival order.
func (t *nackTracker) evict(i int) {
	copy(t.missing[i:t.n], t.missing[i+1:t.n])
	t.n--
	if t.n == 0 {
		t.due = 0
	}
}

// collect returns the sequence numbers to ask for at now (nil if none)
// and schedules their next try; those asked for nackTries times are given
// up. The slice is reused by the next call.
func (t *nackTracker) collect(now int64) []uint16 {
	if t.due == 0 || now < t.due {
		return nil
	}
	t.sns = t.sns[:0]
	t.due = 0
	kept := 0
	for i := 0; i < t.n; i++ {
		m := t.missing[i]
		if m.next <= now {
			if m.tries == nackTries {
				continue // asked for often enough: given up
			}
			t.sns = append(t.sns, m.sn)
			m.tries++
			m.next = now + t.retry
		}
		if t.due == 0 || m.next < t.due {
			t.due = m.next
		}
		t.missing[kept] = m
		kept++
	}
	t.n = kept
	if len(t.sns) == 0 {
		return nil // the last were given up: no empty NACK
	}
	return t.sns
}

// nackPairs packs sequence numbers into the pairs of a generic NACK.
func nackPairs(sns []uint16) []rtcp.NackPair { return rtcp.NackPairsFromSequenceNumbers(sns) }
