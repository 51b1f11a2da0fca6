package sfu

import (
	"testing"
	"time"
)

// TestUntilAligned: every connection's reports fall due on the same
// instants, the next multiple of the interval on the wall clock.
func TestUntilAligned(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Duration // after base
		want time.Duration
	}{
		{0, time.Second}, // on an instant: the next one
		{1, time.Second - 1},
		{300 * time.Millisecond, 700 * time.Millisecond},
		{2*time.Second + 999*time.Millisecond, time.Millisecond},
	} {
		if got := untilAligned(base.Add(tc.at), time.Second); got != tc.want {
			t.Errorf("at +%v: %v, want %v", tc.at, got, tc.want)
		}
	}
	// Two connections that start apart report together.
	a := time.Now().Round(0) // the wall clock only, as Truncate reads it
	b := a.Add(137 * time.Millisecond)
	if da, db := a.Add(untilAligned(a, time.Second)), b.Add(untilAligned(b, time.Second)); !da.Equal(db) && db.Sub(da) != time.Second {
		t.Errorf("due at %v and %v: not the same instant of the wall clock", da, db)
	}
}
