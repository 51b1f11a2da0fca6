package datachannel

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The labels of the server's own DataChannels, which carry the signaling
// after the switch.
const (
	// LabelSignaling carries re-offer, re-answer, candidate, close and
	// disconnect.
	LabelSignaling = "signaling"
	// LabelNotify carries notify messages.
	LabelNotify = "notify"
	// LabelPush carries push messages.
	LabelPush = "push"
	// LabelStats carries req-stats and the client's stats.
	LabelStats = "stats"
)

// SignalingLabels are the server's own labels, in the order the server
// creates them.
var SignalingLabels = []string{LabelSignaling, LabelNotify, LabelPush, LabelStats}

// Bounds on what a client may request.
const (
	// MaxSpecs bounds the data_channels entries of one connection.
	MaxSpecs = 32
	// MaxLabelLength bounds a label, in bytes, "#" included.
	MaxLabelLength = 255
	// MaxProtocolLength bounds a protocol, in bytes.
	MaxProtocolLength = 255
)

// Direction says which way a messaging label carries messages for one
// connection.
type Direction string

// Directions.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
)

// Sends reports whether a connection may send on a label of this
// direction.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether a connection gets the others' messages on a
// label of this direction.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// HeaderSenderConnectionID is the one header type: the sender's
// connection id before the payload.
const HeaderSenderConnectionID = "sender_connection_id"

// HeaderField is one entry of a data_channels header.
type HeaderField struct {
	Type string `json:"type"`
}

// Spec is one data_channels entry: a messaging label and how the
// connection uses it. Its JSON form is the entry as connect and the offer
// carry it.
type Spec struct {
	Label     string    `json:"label"`
	Direction Direction `json:"direction,omitempty"` // "" means sendrecv
	// Ordered is nil for the default (ordered).
	Ordered *bool `json:"ordered,omitempty"`
	// MaxPacketLifeTime (ms) and MaxRetransmits make the channel
	// partially reliable; at most one of them is set.
	MaxPacketLifeTime *uint16 `json:"max_packet_life_time,omitempty"`
	MaxRetransmits    *uint16 `json:"max_retransmits,omitempty"`
	Protocol          string  `json:"protocol,omitempty"`
	// Compress: messages on this label are zlib streams (RFC 1950) both
	// ways.
	Compress bool `json:"compress"`
	// Header lists what the server puts before each forwarded message;
	// only HeaderSenderConnectionID exists.
	Header []HeaderField `json:"header,omitempty"`
}

// WithSenderID reports whether forwarded messages carry the sender's
// connection id first.
func (s Spec) WithSenderID() bool { return len(s.Header) > 0 }

// IsMessagingLabel reports whether label is a participants' messaging
// label (it starts with "#").
func IsMessagingLabel(label string) bool { return strings.HasPrefix(label, "#") }

// SpecError names the data_channels field that is invalid.
type SpecError struct {
	Field   string // "label", "direction", ... or "" for the list itself
	Message string
}

func (e *SpecError) Error() string {
	if e.Field == "" {
		return "data_channels: " + e.Message
	}
	return fmt.Sprintf("data_channels.%s: %s", e.Field, e.Message)
}

// Validate checks a connection's data_channels entries and fills their
// defaults in place. It returns a *SpecError.
func Validate(specs []Spec) error {
	if len(specs) > MaxSpecs {
		return &SpecError{Message: fmt.Sprintf("more than %d entries", MaxSpecs)}
	}
	seen := make(map[string]bool, len(specs))
	for i := range specs {
		s := &specs[i]
		if err := validateSpec(s); err != nil {
			return err
		}
		if seen[s.Label] {
			return &SpecError{Field: "label", Message: fmt.Sprintf("%q appears twice", s.Label)}
		}
		seen[s.Label] = true
	}
	return nil
}

func validateSpec(s *Spec) error {
	switch {
	case s.Label == "":
		return &SpecError{Field: "label", Message: "missing"}
	case !IsMessagingLabel(s.Label) || len(s.Label) < 2:
		return &SpecError{Field: "label", Message: fmt.Sprintf("%q does not start with # followed by a name", s.Label)}
	case len(s.Label) > MaxLabelLength || !utf8.ValidString(s.Label):
		return &SpecError{Field: "label", Message: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxLabelLength)}
	case len(s.Protocol) > MaxProtocolLength || !utf8.ValidString(s.Protocol):
		return &SpecError{Field: "protocol", Message: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxProtocolLength)}
	case s.MaxPacketLifeTime != nil && s.MaxRetransmits != nil:
		return &SpecError{Field: "max_packet_life_time", Message: "cannot be set with max_retransmits"}
	case len(s.Header) > 1:
		return &SpecError{Field: "header", Message: "more than one entry"}
	case len(s.Header) == 1 && s.Header[0].Type != HeaderSenderConnectionID:
		return &SpecError{Field: "header", Message: fmt.Sprintf("type %q is not %s", s.Header[0].Type, HeaderSenderConnectionID)}
	}
	switch s.Direction {
	case "":
		s.Direction = SendRecv
	case SendRecv, SendOnly, RecvOnly:
	default:
		return &SpecError{Field: "direction", Message: fmt.Sprintf("%q is not sendrecv, sendonly or recvonly", s.Direction)}
	}
	return nil
}
