package spotlight

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Levels used by the tests (RFC 6464, -dBov).
const (
	loud   = 20  // clear speech
	softer = 35  // speech, quieter than loud
	quiet  = 100 // background noise
	silent = 127
)

// rig drives a Detector on a fake clock: each step is one 100 ms window
// in which every sender sends five packets at its current level.
type rig struct {
	t      *testing.T
	now    time.Time
	d      *Detector
	meters map[string]*Meter
	levels map[string]uint8
	log    []string // every change, formatted
}

func newRig(t *testing.T, number int, ids ...string) *rig {
	t.Helper()
	r := &rig{t: t, now: time.Unix(1000, 0), meters: map[string]*Meter{}, levels: map[string]uint8{}}
	d, err := New(Config{Number: number, Now: func() time.Time { return r.now }})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	for _, id := range ids {
		r.join(id)
	}
	return r
}

func (r *rig) join(id string) {
	r.meters[id] = &Meter{}
	r.levels[id] = silent
	r.d.Join(id, r.meters[id])
}

func (r *rig) record(cs []Change) []string {
	var out []string
	for _, c := range cs {
		var s string
		switch c.Kind {
		case Focused:
			s = "+" + c.ID
		case Unfocused:
			s = "-" + c.ID
		case SlotChanged:
			s = fmt.Sprintf("slot%d=%s", c.Slot, c.ID)
		}
		if c.Fixed {
			s += "!"
		}
		out = append(out, s)
	}
	r.log = append(r.log, out...)
	return out
}

// run advances the clock by d in windows and returns the changes.
func (r *rig) run(d time.Duration) []string {
	var out []string
	for end := r.now.Add(d); r.now.Before(end); {
		r.now = r.now.Add(DefaultWindow)
		for id, m := range r.meters {
			for range 5 {
				m.AddLevel(r.levels[id])
			}
		}
		out = append(out, r.record(r.d.Tick())...)
	}
	return out
}

// focused is the focused set as "a b!" (! = pinned), in slot order.
func (r *rig) focused() string {
	var out []string
	for _, f := range r.d.Focused() {
		s := f.ID
		if f.Fixed {
			s += "!"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func (r *rig) want(what, focused string) {
	r.t.Helper()
	if got := r.focused(); got != focused {
		r.t.Fatalf("%s: focused %q, want %q (changes so far %v)", what, got, focused, r.log)
	}
}

func (r *rig) do(cs []Change, err error) []string {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
	return r.record(cs)
}

func TestSpeakerTakesFocusAfterLead(t *testing.T) {
	r := newRig(t, 1, "a", "b")
	r.levels["a"] = loud
	// Smoothing reaches the voice threshold in a few windows; then the
	// lead must last a second: no focus at 1 s, focus by 1.6 s.
	r.run(time.Second)
	r.want("after 1 s of speech", "")
	got := r.run(600 * time.Millisecond)
	r.want("after 1.6 s of speech", "a")
	if fmt.Sprint(got) != "[+a slot0=a]" {
		t.Errorf("changes %v, want [+a slot0=a]", got)
	}
}

func TestNoiseNeverTakesFocus(t *testing.T) {
	r := newRig(t, 1, "a")
	r.levels["a"] = quiet
	r.run(10 * time.Second)
	r.want("background noise", "")
}

func TestShortUtteranceDoesNotTakeFocus(t *testing.T) {
	r := newRig(t, 1, "a", "b")
	r.levels["a"] = loud
	r.run(3 * time.Second)
	r.want("a speaks", "a")
	// b says "yes" (0.5 s) while a goes on.
	r.levels["b"] = loud
	r.run(500 * time.Millisecond)
	r.levels["b"] = silent
	r.run(3 * time.Second)
	r.want("after b's short word", "a")
}

func TestSilenceReleasesFocusAfterHold(t *testing.T) {
	r := newRig(t, 1, "a")
	r.levels["a"] = loud
	r.run(2 * time.Second)
	r.want("speaking", "a")
	r.levels["a"] = silent
	r.run(2500 * time.Millisecond)
	r.want("2.5 s of silence (hold 3 s)", "a")
	got := r.run(time.Second)
	r.want("3.5 s of silence", "")
	if fmt.Sprint(got) != "[-a slot0=]" {
		t.Errorf("changes %v, want [-a slot0=]", got)
	}
}

func TestLouderSpeakerReplacesFocused(t *testing.T) {
	r := newRig(t, 1, "a", "b")
	r.levels["a"] = softer
	r.run(2 * time.Second)
	r.want("a speaks", "a")
	r.levels["b"] = loud
	got := r.run(2 * time.Second)
	r.want("b speaks louder for 2 s", "b")
	if fmt.Sprint(got) != "[-a +b slot0=b]" {
		t.Errorf("changes %v, want [-a +b slot0=b]", got)
	}
}

func TestPinSurvivesLouderSpeaker(t *testing.T) {
	r := newRig(t, 1, "a", "b")
	got := r.do(r.d.Focus("a", true))
	if fmt.Sprint(got) != "[+a! slot0=a!]" {
		t.Errorf("pin changes %v", got)
	}
	r.levels["b"] = loud
	r.run(10 * time.Second)
	r.want("b speaks for 10 s", "a!")
	// Unfocus releases the pin; b, still speaking, then takes the slot.
	got = r.do(r.d.Unfocus("a"))
	if fmt.Sprint(got) != "[-a! slot0=]" {
		t.Errorf("unfocus changes %v", got)
	}
	r.run(2 * time.Second)
	r.want("after unfocus", "b")
}

func TestFocusSpotlightIsMovedBySpeech(t *testing.T) {
	r := newRig(t, 1, "a", "b")
	r.do(r.d.Focus("a", false))
	r.run(10 * time.Second)
	r.want("silent, focused by the operator", "a")
	r.levels["b"] = loud
	r.run(2 * time.Second)
	r.want("b speaks", "b")
}

func TestNumberShrinksAndGrows(t *testing.T) {
	r := newRig(t, 3, "a", "b", "c", "d")
	for _, id := range []string{"a", "b", "c"} {
		r.levels[id] = loud
	}
	r.run(2 * time.Second)
	r.want("three speakers", "a b c")
	// b pinned; a keeps speaking, c stops: c is the least recently
	// active unpinned, then a goes.
	r.do(r.d.Focus("b", true))
	r.levels["c"] = silent
	r.levels["b"] = silent
	r.run(time.Second)
	got := r.do(r.d.SetNumber(1))
	r.want("number 1", "b!")
	if want := "[-c slot2= -a slot0= slot1= slot0=b!]"; fmt.Sprint(got) != want {
		t.Errorf("shrink changes %v, want %s", got, want)
	}
	r.do(r.d.SetNumber(2))
	r.want("number 2, before a tick", "b!")
	// a, still speaking, takes the new slot after leading again.
	r.run(500 * time.Millisecond)
	r.want("number 2, 0.5 s later", "b!")
	r.run(time.Second)
	r.want("number 2, 1.5 s later", "b! a")
}

func TestFocusedSenderLeavingFreesSlot(t *testing.T) {
	r := newRig(t, 1, "a", "b")
	r.levels["a"] = loud
	r.levels["b"] = softer
	r.run(2 * time.Second)
	r.want("a louder", "a")
	got := r.record(r.d.Leave("a"))
	if fmt.Sprint(got) != "[-a slot0=]" {
		t.Errorf("leave changes %v", got)
	}
	r.run(1500 * time.Millisecond)
	r.want("b takes the free slot", "b")
	if r.d.IsFocused("a") {
		t.Error("a still focused after leaving")
	}
}

func TestTiesBreakByJoinOrder(t *testing.T) {
	r := newRig(t, 1, "b", "a", "c")
	for _, id := range []string{"a", "b", "c"} {
		r.levels[id] = loud
	}
	r.run(2 * time.Second)
	r.want("equal speakers", "b")
}

func TestOperatorFocusWhenFull(t *testing.T) {
	r := newRig(t, 2, "a", "b", "c", "d")
	r.do(r.d.Focus("a", true))
	r.do(r.d.Focus("b", false))
	// c replaces the only unpinned one, b.
	if got := r.do(r.d.Focus("c", false)); fmt.Sprint(got) != "[-b +c slot1=c]" {
		t.Errorf("focus c: %v", got)
	}
	r.do(r.d.Focus("c", true))
	r.want("a and c pinned", "a! c!")
	// Every slot pinned: the least recently pinned, a, gives way.
	if got := r.do(r.d.Focus("d", true)); fmt.Sprint(got) != "[-a! +d! slot0=d!]" {
		t.Errorf("focus d fixed: %v", got)
	}
	// Focusing a focused sender changes nothing.
	if got := r.do(r.d.Focus("d", false)); len(got) != 0 {
		t.Errorf("refocus: %v", got)
	}
}

func TestErrors(t *testing.T) {
	r := newRig(t, 1, "a")
	if _, err := r.d.Focus("x", false); !errors.Is(err, ErrUnknownSender) {
		t.Errorf("Focus unknown: %v", err)
	}
	if _, err := r.d.Unfocus("x"); !errors.Is(err, ErrUnknownSender) {
		t.Errorf("Unfocus unknown: %v", err)
	}
	for _, n := range []int{0, 9, -1} {
		if _, err := r.d.SetNumber(n); !errors.Is(err, ErrInvalidNumber) {
			t.Errorf("SetNumber(%d): %v", n, err)
		}
		if _, err := New(Config{Number: n}); n != 0 && !errors.Is(err, ErrInvalidNumber) {
			t.Errorf("New(Number %d): %v", n, err)
		}
	}
	if got := r.record(r.d.Leave("x")); len(got) != 0 {
		t.Errorf("Leave unknown: %v", got)
	}
}

func TestMeterMean(t *testing.T) {
	var m Meter
	if got := m.take(); got != 0 {
		t.Errorf("empty window: %d", got)
	}
	m.AddLevel(27)        // loudness 100
	m.AddLevel(0x80 | 47) // voice flag set, level 47: loudness 80
	if got := m.take(); got != 90 {
		t.Errorf("mean loudness %d, want 90", got)
	}
	if got := m.take(); got != 0 {
		t.Errorf("next window: %d, want 0", got)
	}
}
