package sfu

import (
	"errors"
	"fmt"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrChannelNotFound: the channel has no connections.
	ErrChannelNotFound = errors.New("sfu: channel not found")
	// ErrConnectionNotFound: no such connection in that channel.
	ErrConnectionNotFound = errors.New("sfu: connection not found")
	// ErrInvalidArgument: a request field is missing or invalid. The
	// error is an *InvalidArgumentError naming the field.
	ErrInvalidArgument = errors.New("sfu: invalid argument")
	// ErrFeatureDisabled: the feature is not enabled for that channel or
	// connection.
	ErrFeatureDisabled = errors.New("sfu: feature disabled")
	// ErrClosed: the engine or connection is closed.
	ErrClosed = errors.New("sfu: closed")
	// ErrLimitExceeded: a configured limit (channels, connections per
	// channel) would be exceeded.
	ErrLimitExceeded = errors.New("sfu: limit exceeded")
	// ErrRejected: the Authenticate hook rejected the connection.
	ErrRejected = errors.New("sfu: connection rejected")
	// ErrNoOfferPending: an answer arrived while no offer was outstanding.
	ErrNoOfferPending = errors.New("sfu: no offer pending")
	// ErrForwardNotFound: no RTP forward runs for that connection.
	ErrForwardNotFound = errors.New("sfu: RTP forward not found")
)

// InvalidArgumentError names the request field that is missing or invalid.
// It matches ErrInvalidArgument with errors.Is.
type InvalidArgumentError struct {
	Key     string // the field, as it is spelled on the wire ("channel_id")
	Missing bool   // the field is absent, rather than present but invalid
	Message string // what is wrong
}

// Error names the key and what is wrong with it.
func (e *InvalidArgumentError) Error() string {
	if e.Missing {
		return fmt.Sprintf("sfu: missing %s", e.Key)
	}
	return fmt.Sprintf("sfu: invalid %s: %s", e.Key, e.Message)
}

// Unwrap makes errors.Is(err, ErrInvalidArgument) true.
func (e *InvalidArgumentError) Unwrap() error { return ErrInvalidArgument }

func missing(key string) error { return &InvalidArgumentError{Key: key, Missing: true} }

func invalid(key, format string, args ...any) error {
	return &InvalidArgumentError{Key: key, Message: fmt.Sprintf(format, args...)}
}

// RejectedError is returned by Engine.Connect when the Authenticate hook
// rejected the request. It matches ErrRejected with errors.Is.
type RejectedError struct {
	Reason string // shown to the client, e.g. "AUTH-REJECTED"
	Err    error  // the hook's error, if it failed
}

// Error gives the reason and, if the hook failed, its error.
func (e *RejectedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sfu: connection rejected: %s: %v", e.Reason, e.Err)
	}
	return "sfu: connection rejected: " + e.Reason
}

// Unwrap makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Unwrap() []error { return []error{ErrRejected, e.Err} }

// CloseReason says why a connection ended. Code follows WebSocket close
// codes, because that is what Sora clients are shown.
type CloseReason struct {
	Code   int
	Reason string
}

// Reasons a connection ends.
var (
	// ReasonDisconnect: the client asked to disconnect.
	ReasonDisconnect = CloseReason{1000, "NO-ERROR"}
	// ReasonDisconnectedAPI: closed through the Go or management API.
	ReasonDisconnectedAPI = CloseReason{1000, "DISCONNECTED-API"}
	// ReasonShutdown: the engine is closing.
	ReasonShutdown = CloseReason{1001, "SHUTDOWN"}
	// ReasonTransportClosed: the signaling transport dropped.
	ReasonTransportClosed = CloseReason{1006, "TRANSPORT-CLOSED"}
	// ReasonSetupTimeout: the PeerConnection did not connect in time.
	ReasonSetupTimeout = CloseReason{4490, "SETUP-TIMEOUT"}
	// ReasonPongTimeout: the client stopped answering pings.
	ReasonPongTimeout = CloseReason{4490, "PONG-TIMEOUT"}
	// ReasonAnswerTimeout: the client did not answer a re-offer in time.
	ReasonAnswerTimeout = CloseReason{4490, "RE-ANSWER-TIMEOUT"}
	// ReasonNegotiationFailed: the client's answer could not be applied.
	ReasonNegotiationFailed = CloseReason{4490, "NEGOTIATION-FAILED"}
	// ReasonSlowConsumer: the client stopped draining its events.
	ReasonSlowConsumer = CloseReason{4490, "EVENT-QUEUE-FULL"}
	// ReasonPeerConnectionFailed: ICE or DTLS failed.
	ReasonPeerConnectionFailed = CloseReason{4490, "PEER-CONNECTION-FAILED"}
)
