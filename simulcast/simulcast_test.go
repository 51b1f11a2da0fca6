package simulcast

import (
	"testing"
	"time"
)

func TestChoose(t *testing.T) {
	tests := []struct {
		requested Layer
		arriving  Set
		want      Layer
	}{
		{R2, Of(R0, R1, R2), R2},
		{R0, Of(R0, R1, R2), R0},
		{R1, Of(R0, R1, R2), R1},
		{R2, Of(R0, R1), R1}, // requested not arriving: next lower
		{R2, Of(R0), R0},
		{R1, Of(R0, R2), R0}, // lower preferred over higher
		{R0, Of(R1, R2), R1}, // nothing lower: next higher
		{R0, Of(R2), R2},
		{R1, Of(R2), R2},
		{R1, Of(), None},
		{None, Of(R0, R1, R2), None},
	}
	for _, tt := range tests {
		if got := Choose(tt.requested, tt.arriving); got != tt.want {
			t.Errorf("Choose(%v, %08b) = %v, want %v", tt.requested, tt.arriving, got, tt.want)
		}
	}
}

// The sequence the issue names: r2 requested while only r0 and r1 arrive
// gives r1; r1 stops gives r0; r1 returns gives r1 again.
func TestTrackerFollowsLayersStoppingAndReturning(t *testing.T) {
	tr := NewTracker(time.Second)
	sec := int64(time.Second)
	now := 10 * sec
	tr.Seen(R0, now)
	tr.Seen(R1, now)
	if got := Choose(R2, tr.Arriving(now)); got != R1 {
		t.Fatalf("r0 and r1 arriving, r2 requested: got %v, want r1", got)
	}
	// r1 stops; r0 goes on.
	now += 2 * sec
	tr.Seen(R0, now)
	if got := Choose(R2, tr.Arriving(now)); got != R0 {
		t.Fatalf("r1 stopped: got %v, want r0", got)
	}
	// r1 returns.
	now += sec / 10
	tr.Seen(R1, now)
	if got := Choose(R2, tr.Arriving(now)); got != R1 {
		t.Fatalf("r1 returned: got %v, want r1", got)
	}
	if got := tr.Arriving(now + 5*sec); got != 0 {
		t.Errorf("nothing for 5 s: arriving %08b, want none", got)
	}
}

func TestParseRID(t *testing.T) {
	for _, rid := range []string{"r0", "r1", "r2"} {
		l, err := ParseRID(rid)
		if err != nil || l.RID() != rid {
			t.Errorf("ParseRID(%q) = %v, %v", rid, l, err)
		}
	}
	for _, rid := range []string{"", "r3", "R0", "none"} {
		if _, err := ParseRID(rid); err == nil {
			t.Errorf("ParseRID(%q) accepted", rid)
		}
	}
	if None.RID() != "" || None.String() != "none" {
		t.Error("None has a rid")
	}
}
