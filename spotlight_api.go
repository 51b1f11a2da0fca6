package sfu

import (
	"context"
	"errors"
	"fmt"

	"github.com/gosfu/sfu/simulcast"
	"github.com/gosfu/sfu/spotlight"
)

// spotRoom returns the channel's room if it is a spotlight channel.
func (ch *Channel) spotRoom() (*room, error) {
	r := ch.engine.room(ch.id)
	if r == nil {
		return nil, fmt.Errorf("%w: %q", ErrChannelNotFound, ch.id)
	}
	if r.spot == nil {
		return nil, fmt.Errorf("%w: channel %q is not a spotlight channel", ErrFeatureDisabled, ch.id)
	}
	return r, nil
}

// spotSender runs op on the detector for a sending connection of a
// spotlight channel and applies its changes.
func (ch *Channel) spotSender(connID string, op func(*spotlight.Detector) ([]spotlight.Change, error)) error {
	r, err := ch.spotRoom()
	if err != nil {
		return err
	}
	c := r.find(connID)
	if c == nil {
		return fmt.Errorf("%w: %q in channel %q", ErrConnectionNotFound, connID, ch.id)
	}
	if !c.role.Sends() {
		return fmt.Errorf("%w: connection %q does not send (role %s)", ErrFeatureDisabled, connID, c.role)
	}
	r.spot.mu.Lock()
	defer r.spot.mu.Unlock()
	changes, err := op(r.spot.det)
	if errors.Is(err, spotlight.ErrUnknownSender) {
		// It left between the lookup and now.
		return fmt.Errorf("%w: %q in channel %q", ErrConnectionNotFound, connID, ch.id)
	}
	if err != nil {
		return err
	}
	r.spotApply(changes)
	return nil
}

// FocusSpotlight puts a sender in focus now. Speaker detection may move
// the focus to a speaker later; silence alone does not release it.
func (ch *Channel) FocusSpotlight(ctx context.Context, connID string) error {
	return ch.spotSender(connID, func(d *spotlight.Detector) ([]spotlight.Change, error) { return d.Focus(connID, false) })
}

// FocusSpotlightFixed pins a sender in focus until UnfocusSpotlight: no
// speaker takes its slot.
func (ch *Channel) FocusSpotlightFixed(ctx context.Context, connID string) error {
	return ch.spotSender(connID, func(d *spotlight.Detector) ([]spotlight.Change, error) { return d.Focus(connID, true) })
}

// UnfocusSpotlight takes a sender out of focus, releasing a pin. A
// sender not in focus is left as it is.
func (ch *Channel) UnfocusSpotlight(ctx context.Context, connID string) error {
	return ch.spotSender(connID, func(d *spotlight.Detector) ([]spotlight.Change, error) { return d.Unfocus(connID) })
}

// ChangeSpotlightNumber sets how many senders may be in focus (1 to 8).
// It applies at once, and later connects that give spotlight_number
// must give this one.
func (ch *Channel) ChangeSpotlightNumber(ctx context.Context, n int) error {
	if n < 1 || n > spotlight.MaxNumber {
		return invalid("spotlight_number", "%d is not 1 to %d", n, spotlight.MaxNumber)
	}
	r, err := ch.spotRoom()
	if err != nil {
		return err
	}
	r.spot.mu.Lock()
	defer r.spot.mu.Unlock()
	changes, err := r.spot.det.SetNumber(n)
	if err != nil {
		return err
	}
	r.spotApply(changes)
	return nil
}

// SpotlightNumber returns how many senders may be in focus.
func (ch *Channel) SpotlightNumber(ctx context.Context) (int, error) {
	r, err := ch.spotRoom()
	if err != nil {
		return 0, err
	}
	r.spot.mu.Lock()
	defer r.spot.mu.Unlock()
	return r.spot.det.Number(), nil
}

// SpotlightFocused returns the senders in focus, in slot order.
func (ch *Channel) SpotlightFocused(ctx context.Context) ([]SpotlightFocus, error) {
	r, err := ch.spotRoom()
	if err != nil {
		return nil, err
	}
	r.spot.mu.Lock()
	defer r.spot.mu.Unlock()
	out := []SpotlightFocus{}
	for _, f := range r.spot.det.Focused() {
		sf := SpotlightFocus{ConnectionID: f.ID, Slot: f.Slot, Fixed: f.Fixed}
		if s := r.spot.senders[f.ID]; s != nil {
			sf.ClientID = s.clientID
		}
		out = append(out, sf)
	}
	return out, nil
}

// RequestSpotlightRid sets the layers the receiver gets from one sender,
// or from every sender when sendID is empty: focusRID while the sender is
// in focus, unfocusRID otherwise ("none", "r0", "r1", "r2"; "none" stops
// the video). An empty rid keeps the receiver's connect-time one. The
// switch happens at the layer's next key frame.
func (ch *Channel) RequestSpotlightRid(ctx context.Context, recvID, sendID, focusRID, unfocusRID string) error {
	if focusRID == "" && unfocusRID == "" {
		return missing("spotlight_focus_rid")
	}
	if focusRID != "" && !validSpotlightRID(focusRID) {
		return invalid("spotlight_focus_rid", "%q is not none, r0, r1 or r2", focusRID)
	}
	if unfocusRID != "" && !validSpotlightRID(unfocusRID) {
		return invalid("spotlight_unfocus_rid", "%q is not none, r0, r1 or r2", unfocusRID)
	}
	return ch.setSpotRIDs(recvID, sendID, func(recv *Connection) *spotRIDs {
		rids := recv.spot.rids
		if focusRID != "" {
			rids.focus = focusRID
		}
		if unfocusRID != "" {
			rids.unfocus = unfocusRID
		}
		return &rids
	})
}

// ResetSpotlightRid returns the receiver to its connect-time spotlight
// layers for one sender, or for every sender when sendID is empty.
func (ch *Channel) ResetSpotlightRid(ctx context.Context, recvID, sendID string) error {
	return ch.setSpotRIDs(recvID, sendID, func(*Connection) *spotRIDs { return nil })
}

func (ch *Channel) setSpotRIDs(recvID, sendID string, rids func(*Connection) *spotRIDs) error {
	r, err := ch.spotRoom()
	if err != nil {
		return err
	}
	recv, _, err := ch.streamPair(recvID, sendID)
	if err != nil {
		return err
	}
	v := rids(recv)
	recv.policyMu.Lock()
	switch {
	case sendID != "" && v != nil:
		if recv.spot.per == nil {
			recv.spot.per = map[string]spotRIDs{}
		}
		recv.spot.per[sendID] = *v
	case sendID != "":
		delete(recv.spot.per, sendID)
	default:
		recv.spot.all, recv.spot.per = v, nil
	}
	recv.policyMu.Unlock()
	for _, o := range r.all() {
		if o != recv && o.role.Sends() && (sendID == "" || o.id == sendID) {
			recv.spotWithhold(o.id, recv.policy(o.id))
		}
	}
	recv.relayerSoon()
	return nil
}

// spotLayer is the simulcast layer c wants from a sender of a spotlight
// channel ("none" asks for the lowest: its video is withheld anyway).
func (c *Connection) spotLayer(senderID string, focused bool) simulcast.Layer {
	l, err := simulcast.ParseRID(c.spotRID(senderID, focused))
	if err != nil {
		return simulcast.R0
	}
	return l
}
