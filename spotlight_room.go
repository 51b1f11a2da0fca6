package sfu

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/spotlight"
)

// SpotlightOptions tune spotlight channels. Zero fields take the
// defaults; see package spotlight for the rules the durations and the
// voice level feed.
type SpotlightOptions struct {
	// Encodings are the simulcast layers a spotlight sender is told to
	// send (default DefaultSpotlightEncodings: r0 and r1, r2 inactive).
	Encodings []Encoding
	// FocusRID and UnfocusRID are the layers a receiver gets from focused
	// and unfocused senders when it names none at connect ("none", "r0",
	// "r1", "r2"; default "r1" and "r0").
	FocusRID, UnfocusRID string
	// VoiceLevel is the RFC 6464 level (-dBov) at or below which a
	// sender's smoothed level counts as speech (default 50).
	VoiceLevel int
	// Window is the period over which audio levels are averaged and
	// focus is decided (default 100 ms).
	Window time.Duration
	// Lead is how long a speaker must lead to take a slot (default 1 s).
	Lead time.Duration
	// Hold is how long a sender focused by speech keeps its slot after
	// it last spoke (default 3 s).
	Hold time.Duration
}

// DefaultSpotlightEncodings are the layers a spotlight sender sends: as
// DefaultSimulcastEncodings, with r2 inactive (as Sora: the full
// resolution is not encoded unless configured).
var DefaultSpotlightEncodings = []Encoding{
	{RID: "r0", Active: true, ScaleResolutionDownBy: 4, MaxBitrate: 150_000, ScalabilityMode: "L1T1"},
	{RID: "r1", Active: true, ScaleResolutionDownBy: 2, MaxBitrate: 500_000, ScalabilityMode: "L1T1"},
	{RID: "r2", Active: false, ScaleResolutionDownBy: 1, MaxBitrate: 1_500_000, ScalabilityMode: "L1T1"},
}

func (o SpotlightOptions) withDefaults() SpotlightOptions {
	if len(o.Encodings) == 0 {
		o.Encodings = DefaultSpotlightEncodings
	}
	if o.FocusRID == "" {
		o.FocusRID = "r1"
	}
	if o.UnfocusRID == "" {
		o.UnfocusRID = "r0"
	}
	if o.Window <= 0 {
		o.Window = spotlight.DefaultWindow
	}
	return o
}

// validSpotlightRID reports whether rid is a spotlight rid.
func validSpotlightRID(rid string) bool {
	return rid == "none" || rid == "r0" || rid == "r1" || rid == "r2"
}

// SpotlightNotify is a spotlight.focused, spotlight.unfocused or
// spotlight.changed notify, shaped as sora-js-sdk types them.
type SpotlightNotify struct {
	EventType string `json:"event_type"`
	// SpotlightID is the slot ("0" to "7"), only in spotlight.changed.
	SpotlightID string `json:"spotlight_id,omitempty"`
	// ClientID and ConnectionID are the sender's; null in a
	// spotlight.changed for a slot left empty.
	ClientID     *string `json:"client_id"`
	ConnectionID *string `json:"connection_id"`
	Audio        bool    `json:"audio"`
	Video        bool    `json:"video"`
	Fixed        bool    `json:"fixed"`
}

// SpotlightFocus is one focused sender of a spotlight channel.
type SpotlightFocus struct {
	ConnectionID string
	ClientID     string
	Slot         int
	Fixed        bool
}

// spotRIDs is a receiver's pair of spotlight rids.
type spotRIDs struct{ focus, unfocus string }

// connSpotlight is a connection's spotlight state.
type connSpotlight struct {
	number int                 // spotlight_number at connect, 0 if not given
	rids   spotRIDs            // at connect, defaulted
	meter  spotlight.Meter     // its audio levels, if it sends
	all    *spotRIDs           // RequestSpotlightRid for every sender; under policyMu
	per    map[string]spotRIDs // by sender; under policyMu
}

// roomSpotlight is the spotlight state of a spotlight channel. mu
// serialises the detector and the application of its changes, so that
// notifies leave in the order of the changes. Lock order: mu, then the
// room's and the connections' locks.
type roomSpotlight struct {
	mu      sync.Mutex
	det     *spotlight.Detector
	senders map[string]*Connection // by connection id
	// focused is the focused set, replaced under mu after every change,
	// read without it when a policy is created.
	focused atomic.Pointer[map[string]bool]
	stop    chan struct{}
}

func newRoomSpotlight(o SpotlightOptions, number int) *roomSpotlight {
	if number == 0 {
		number = spotlight.DefaultNumber
	}
	det, err := spotlight.New(spotlight.Config{Number: number, Window: o.Window, VoiceLevel: o.VoiceLevel, Lead: o.Lead, Hold: o.Hold})
	if err != nil {
		panic(err) // number was validated at connect
	}
	s := &roomSpotlight{det: det, senders: map[string]*Connection{}, stop: make(chan struct{})}
	s.focused.Store(&map[string]bool{})
	return s
}

// spotRun ticks the channel's detector once per window until the room
// goes.
func (r *room) spotRun() {
	t := time.NewTicker(r.engine.opts.Spotlight.Window)
	defer t.Stop()
	for {
		select {
		case <-r.spot.stop:
			return
		case <-t.C:
			r.spot.mu.Lock()
			r.spotApply(r.spot.det.Tick())
			r.spot.mu.Unlock()
		}
	}
}

// spotJoin adds a sending connection to the detector.
func (r *room) spotJoin(c *Connection) {
	if r.spot == nil || !c.role.Sends() {
		return
	}
	r.spot.mu.Lock()
	defer r.spot.mu.Unlock()
	r.spot.senders[c.id] = c
	r.spot.det.Join(c.id, &c.spot.meter)
}

// spotLeave removes a connection that left; its slot, if any, is freed.
func (r *room) spotLeave(c *Connection) {
	if r.spot == nil || !c.role.Sends() {
		return
	}
	r.spot.mu.Lock()
	defer r.spot.mu.Unlock()
	r.spotApply(r.spot.det.Leave(c.id))
	delete(r.spot.senders, c.id)
}

// spotApply makes forwarding follow the changes and notifies every
// connected connection of them, in order. Called with spot.mu held.
func (r *room) spotApply(changes []spotlight.Change) {
	if len(changes) == 0 {
		return
	}
	focused := map[string]bool{}
	for _, f := range r.spot.det.Focused() {
		focused[f.ID] = true
	}
	r.spot.focused.Store(&focused)
	conns := r.all()
	for _, ch := range changes {
		if ch.Kind == spotlight.SlotChanged {
			continue
		}
		for _, recv := range conns {
			if recv.id != ch.ID && recv.role.Receives() {
				recv.spotFollow(ch.ID, focused[ch.ID])
			}
		}
	}
	for _, ch := range changes {
		n := r.spotNotify(ch)
		for _, c := range conns {
			if c.isConnected() {
				c.emit(Event{Kind: EventNotify, Spotlight: n})
			}
		}
	}
}

// spotNotify builds the notify for one change.
func (r *room) spotNotify(ch spotlight.Change) *SpotlightNotify {
	n := &SpotlightNotify{Fixed: ch.Fixed}
	switch ch.Kind {
	case spotlight.Focused:
		n.EventType = "spotlight.focused"
	case spotlight.Unfocused:
		n.EventType = "spotlight.unfocused"
	case spotlight.SlotChanged:
		n.EventType = "spotlight.changed"
		n.SpotlightID = strconv.Itoa(ch.Slot)
	}
	if s := r.spot.senders[ch.ID]; s != nil {
		n.ClientID, n.ConnectionID = &s.clientID, &s.id
		n.Audio, n.Video = s.audio, s.video
	}
	return n
}

// spotGreet tells a connection that just connected who is in focus:
// spotlight.focused and spotlight.changed for each focused sender.
func (r *room) spotGreet(c *Connection) {
	if r.spot == nil {
		return
	}
	r.spot.mu.Lock()
	defer r.spot.mu.Unlock()
	for _, f := range r.spot.det.Focused() {
		for _, kind := range []spotlight.ChangeKind{spotlight.Focused, spotlight.SlotChanged} {
			c.emit(Event{Kind: EventNotify, Spotlight: r.spotNotify(spotlight.Change{Kind: kind, ID: f.ID, Slot: f.Slot, Fixed: f.Fixed})})
		}
	}
}

// spotFollow makes c's forwarding of the sender follow its focus: the
// focus or unfocus layer, audio only when focused.
func (c *Connection) spotFollow(senderID string, focused bool) {
	p := c.policy(senderID)
	p.SetFocused(focused)
	c.spotWithhold(senderID, p)
	c.relayerSoon()
}

// spotWithhold withholds audio from an unfocused sender, and video when
// the layer c wants from it is none.
func (c *Connection) spotWithhold(senderID string, p *forward.Policy) {
	rid := c.spotRID(senderID, p.Focused())
	p.SetWithheld(webrtc.RTPCodecTypeAudio, !p.Focused())
	p.SetWithheld(webrtc.RTPCodecTypeVideo, rid == "none")
}

// spotRID is the spotlight rid c wants from a sender.
func (c *Connection) spotRID(senderID string, focused bool) string {
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	return c.spotRIDsLocked(senderID).pick(focused)
}

// spotRIDsLocked returns c's spotlight rids for a sender: its per-sender
// request, else its request for all senders, else its connect-time
// rids. Called with policyMu held.
func (c *Connection) spotRIDsLocked(senderID string) spotRIDs {
	if r, ok := c.spot.per[senderID]; ok {
		return r
	}
	if c.spot.all != nil {
		return *c.spot.all
	}
	return c.spot.rids
}

// pick returns the rid for a focused or unfocused sender.
func (r spotRIDs) pick(focused bool) string {
	if focused {
		return r.focus
	}
	return r.unfocus
}

// validateSpotlight checks the spotlight keys of a connect and fills in
// the default rids.
func (e *Engine) validateSpotlight(req *ConnectRequest) error {
	if !req.Spotlight {
		switch {
		case req.SpotlightNumber != 0:
			return invalid("spotlight_number", "given without spotlight")
		case req.SpotlightFocusRID != "":
			return invalid("spotlight_focus_rid", "given without spotlight")
		case req.SpotlightUnfocusRID != "":
			return invalid("spotlight_unfocus_rid", "given without spotlight")
		}
		return nil
	}
	if n := req.SpotlightNumber; n != 0 && (n < 1 || n > spotlight.MaxNumber) {
		return invalid("spotlight_number", "%d is not 1 to %d", n, spotlight.MaxNumber)
	}
	if req.SpotlightFocusRID == "" {
		req.SpotlightFocusRID = e.opts.Spotlight.FocusRID
	} else if !validSpotlightRID(req.SpotlightFocusRID) {
		return invalid("spotlight_focus_rid", "%q is not none, r0, r1 or r2", req.SpotlightFocusRID)
	}
	if req.SpotlightUnfocusRID == "" {
		req.SpotlightUnfocusRID = e.opts.Spotlight.UnfocusRID
	} else if !validSpotlightRID(req.SpotlightUnfocusRID) {
		return invalid("spotlight_unfocus_rid", "%q is not none, r0, r1 or r2", req.SpotlightUnfocusRID)
	}
	return nil
}

// admits checks that c agrees with the channel's mode: spotlight or not,
// and the channel's current spotlight_number when c gives one.
func (r *room) admits(c *Connection) error {
	switch {
	case r.spot == nil && c.spotlight:
		return invalid("spotlight", "channel %q is not a spotlight channel", r.id)
	case r.spot != nil && !c.spotlight:
		return invalid("spotlight", "channel %q is a spotlight channel", r.id)
	case r.spot == nil || c.spot.number == 0:
		return nil
	}
	r.spot.mu.Lock()
	n := r.spot.det.Number()
	r.spot.mu.Unlock()
	if c.spot.number != n {
		return invalid("spotlight_number", "channel %q has %d", r.id, n)
	}
	return nil
}
