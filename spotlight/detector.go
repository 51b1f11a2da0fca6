package spotlight

import (
	"cmp"
	"errors"
	"slices"
	"time"
)

// Defaults and limits of a [Config].
const (
	DefaultNumber     = 1
	MaxNumber         = 8
	DefaultWindow     = 100 * time.Millisecond
	DefaultVoiceLevel = 50
	DefaultLead       = time.Second
	DefaultHold       = 3 * time.Second
)

// ErrUnknownSender is returned for an id that never joined or has left.
var ErrUnknownSender = errors.New("spotlight: unknown sender")

// ErrInvalidNumber is returned for a number of slots outside 1 to 8.
var ErrInvalidNumber = errors.New("spotlight: number of slots must be 1 to 8")

// Config tunes a [Detector]. Zero fields take the defaults.
type Config struct {
	// Number is the number of focus slots, 1 to 8 (default 1).
	Number int
	// Window is the period of Tick over which levels are averaged
	// (default 100 ms). It is the caller's ticker; it is recorded here
	// for the documentation of the other durations.
	Window time.Duration
	// VoiceLevel is the RFC 6464 level (-dBov, 0 to 127) at or below
	// which a sender's smoothed level counts as speech (default 50).
	VoiceLevel int
	// Lead is how long a speaker must lead before it takes a slot
	// (default 1 s).
	Lead time.Duration
	// Hold is how long a sender focused by speech keeps its slot after
	// it last spoke (default 3 s).
	Hold time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Number == 0 {
		c.Number = DefaultNumber
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.VoiceLevel <= 0 || c.VoiceLevel > 127 {
		c.VoiceLevel = DefaultVoiceLevel
	}
	if c.Lead <= 0 {
		c.Lead = DefaultLead
	}
	if c.Hold <= 0 {
		c.Hold = DefaultHold
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// ChangeKind says what a [Change] reports.
type ChangeKind int

// Change kinds.
const (
	// Focused: the sender took a slot, or was pinned in its slot.
	Focused ChangeKind = iota + 1
	// Unfocused: the sender left its slot.
	Unfocused
	// SlotChanged: the slot has a new occupant ("" when empty).
	SlotChanged
)

// Change is one step of a change of the focused set.
type Change struct {
	Kind  ChangeKind
	ID    string // the sender; "" for a SlotChanged to an empty slot
	Slot  int
	Fixed bool // the sender is pinned
}

// Focus describes one focused sender.
type Focus struct {
	ID    string
	Slot  int
	Fixed bool
}

// sender is one publishing connection. Times are nanoseconds since the
// Detector's epoch; 0 means never.
type sender struct {
	id    string
	seq   uint64 // join order, for ties
	meter *Meter

	smooth     int   // smoothed loudness, 1/16 units
	leadSince  int64 // start of the current run of leading, 0 if none
	lastActive int64 // last speech in focus, or when it was focused
	pinnedAt   int64
	slot       int // -1 when not in focus
	pinned     bool
	byAPI      bool // focused by the operator: not released by silence
}

// Detector holds the focus state of one channel. See the package
// documentation for its rules.
type Detector struct {
	cfg     Config
	epoch   time.Time
	number  int
	seq     uint64
	senders []*sender // join order
	byID    map[string]*sender
	slots   [MaxNumber]*sender
	changes []Change
	ready   []*sender // scratch: speakers ready to take a slot
}

// New returns a Detector with no senders.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if cfg.Number < 1 || cfg.Number > MaxNumber {
		return nil, ErrInvalidNumber
	}
	return &Detector{cfg: cfg, epoch: cfg.Now(), number: cfg.Number, byID: map[string]*sender{}}, nil
}

// Number returns the number of slots.
func (d *Detector) Number() int { return d.number }

func (d *Detector) now() int64 {
	return int64(d.cfg.Now().Sub(d.epoch)) + 1 // never 0
}

// Join adds a sender whose levels m receives. Joining twice keeps the
// first meter.
func (d *Detector) Join(id string, m *Meter) {
	if d.byID[id] != nil {
		return
	}
	d.seq++
	s := &sender{id: id, seq: d.seq, meter: m, slot: -1}
	d.senders = append(d.senders, s)
	d.byID[id] = s
}

// Leave removes a sender; a focused one frees its slot.
func (d *Detector) Leave(id string) []Change {
	d.changes = d.changes[:0]
	s := d.byID[id]
	if s == nil {
		return d.changes
	}
	if s.slot >= 0 {
		d.vacate(s)
	}
	delete(d.byID, id)
	d.senders = slices.DeleteFunc(d.senders, func(x *sender) bool { return x == s })
	return d.changes
}

// Focused returns the focused senders in slot order.
func (d *Detector) Focused() []Focus {
	var out []Focus
	for i, s := range d.slots[:d.number] {
		if s != nil {
			out = append(out, Focus{ID: s.id, Slot: i, Fixed: s.pinned})
		}
	}
	return out
}

// IsFocused reports whether the sender is in focus.
func (d *Detector) IsFocused(id string) bool {
	s := d.byID[id]
	return s != nil && s.slot >= 0
}

// Focus puts a sender in focus now; fixed pins it until Unfocus.
func (d *Detector) Focus(id string, fixed bool) ([]Change, error) {
	d.changes = d.changes[:0]
	s := d.byID[id]
	if s == nil {
		return d.changes, ErrUnknownSender
	}
	now := d.now()
	if s.slot >= 0 {
		if fixed && !s.pinned {
			s.pinned, s.pinnedAt = true, now
			d.changes = append(d.changes, Change{Kind: Focused, ID: s.id, Slot: s.slot, Fixed: true},
				Change{Kind: SlotChanged, ID: s.id, Slot: s.slot, Fixed: true})
		}
		return d.changes, nil
	}
	slot := d.freeSlot()
	if slot < 0 {
		victim := d.leastRecent(func(v *sender) bool { return !v.pinned })
		if victim == nil {
			victim = d.leastRecentlyPinned()
		}
		slot = victim.slot
		d.unfocus(victim)
	}
	s.pinned, s.byAPI = fixed, !fixed
	if fixed {
		s.pinnedAt = now
	}
	d.take(s, slot, now)
	return d.changes, nil
}

// Unfocus takes a sender out of focus, releasing a pin.
func (d *Detector) Unfocus(id string) ([]Change, error) {
	d.changes = d.changes[:0]
	s := d.byID[id]
	if s == nil {
		return d.changes, ErrUnknownSender
	}
	if s.slot >= 0 {
		d.vacate(s)
	}
	return d.changes, nil
}

// SetNumber changes the number of slots (1 to 8).
func (d *Detector) SetNumber(n int) ([]Change, error) {
	d.changes = d.changes[:0]
	if n < 1 || n > MaxNumber {
		return d.changes, ErrInvalidNumber
	}
	for d.count() > n {
		v := d.leastRecent(func(v *sender) bool { return !v.pinned })
		if v == nil {
			v = d.leastRecentlyPinned()
		}
		d.vacate(v)
	}
	old := d.number
	d.number = n
	// Occupants of slots beyond n move down into the free ones.
	for i := n; i < old; i++ {
		s := d.slots[i]
		if s == nil {
			continue
		}
		to := d.freeSlot()
		d.slots[i], d.slots[to] = nil, s
		s.slot = to
		d.changes = append(d.changes, Change{Kind: SlotChanged, Slot: i},
			Change{Kind: SlotChanged, ID: s.id, Slot: to, Fixed: s.pinned})
	}
	return d.changes, nil
}

// Tick closes the current window of every sender's levels and applies
// speaker detection. Call it once per Window.
func (d *Detector) Tick() []Change {
	d.changes = d.changes[:0]
	now := d.now()
	voice := (127 - d.cfg.VoiceLevel) << 4
	for _, s := range d.senders {
		s.smooth += (s.meter.take()<<4 - s.smooth) / 4
		if s.smooth >= voice && s.slot >= 0 {
			s.lastActive = now
		}
	}
	hold := int64(d.cfg.Hold)
	for _, s := range d.slots[:d.number] {
		if s != nil && !s.pinned && !s.byAPI && now-s.lastActive >= hold {
			d.vacate(s)
		}
	}
	d.ready = d.ready[:0]
	free := d.freeSlot() >= 0
	for _, s := range d.senders {
		if s.slot >= 0 || s.smooth < voice || !(free || d.weaker(s) != nil) {
			s.leadSince = 0
			continue
		}
		if s.leadSince == 0 {
			s.leadSince = now
		}
		if now-s.leadSince >= int64(d.cfg.Lead) {
			d.ready = append(d.ready, s)
		}
	}
	if len(d.ready) == 0 {
		return d.changes
	}
	slices.SortFunc(d.ready, func(a, b *sender) int {
		if c := cmp.Compare(b.smooth, a.smooth); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, s := range d.ready {
		slot := d.freeSlot()
		if slot < 0 {
			v := d.weaker(s)
			if v == nil {
				continue
			}
			slot = v.slot
			d.unfocus(v)
		}
		s.byAPI = false
		d.take(s, slot, now)
	}
	return d.changes
}

// weaker returns the least recently active unpinned focused sender that
// s is louder than, or nil.
func (d *Detector) weaker(s *sender) *sender {
	return d.leastRecent(func(v *sender) bool { return !v.pinned && v.smooth < s.smooth })
}

// leastRecent returns the focused sender with the oldest activity among
// those ok accepts (ties: the earliest joined), or nil.
func (d *Detector) leastRecent(ok func(*sender) bool) *sender {
	var best *sender
	for _, v := range d.slots[:d.number] {
		if v == nil || !ok(v) {
			continue
		}
		if best == nil || v.lastActive < best.lastActive || v.lastActive == best.lastActive && v.seq < best.seq {
			best = v
		}
	}
	return best
}

func (d *Detector) leastRecentlyPinned() *sender {
	var best *sender
	for _, v := range d.slots[:d.number] {
		if v != nil && (best == nil || v.pinnedAt < best.pinnedAt || v.pinnedAt == best.pinnedAt && v.seq < best.seq) {
			best = v
		}
	}
	return best
}

func (d *Detector) freeSlot() int {
	for i, s := range d.slots[:d.number] {
		if s == nil {
			return i
		}
	}
	return -1
}

func (d *Detector) count() int {
	n := 0
	for _, s := range d.slots[:d.number] {
		if s != nil {
			n++
		}
	}
	return n
}

// take puts s in slot, reporting it.
func (d *Detector) take(s *sender, slot int, now int64) {
	d.slots[slot] = s
	s.slot, s.lastActive, s.leadSince = slot, now, 0
	d.changes = append(d.changes, Change{Kind: Focused, ID: s.id, Slot: slot, Fixed: s.pinned},
		Change{Kind: SlotChanged, ID: s.id, Slot: slot, Fixed: s.pinned})
}

// unfocus takes s out of its slot, reporting Unfocused only: the slot's
// new occupant follows.
func (d *Detector) unfocus(s *sender) {
	d.changes = append(d.changes, Change{Kind: Unfocused, ID: s.id, Slot: s.slot, Fixed: s.pinned})
	d.slots[s.slot] = nil
	s.slot, s.pinned, s.byAPI, s.leadSince = -1, false, false, 0
}

// vacate takes s out of its slot and reports the slot empty.
func (d *Detector) vacate(s *sender) {
	slot := s.slot
	d.unfocus(s)
	d.changes = append(d.changes, Change{Kind: SlotChanged, Slot: slot})
}
