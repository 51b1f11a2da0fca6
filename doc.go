// Package sfu is an embeddable WebRTC selective forwarding unit.
//
// An [Engine] owns channels. Clients join a channel through a signaling
// adapter (package signaling speaks Sora's WebSocket protocol) that drives
// the session API: [Engine.Connect] returns the server's offer,
// [Connection.Answer] and [Connection.AddICECandidate] complete the
// negotiation, and [Connection.Events] delivers what must be sent to the
// client (re-offers, notifies, pushes, pings). Every connection that
// receives gets every other publisher's audio and video in its channel.
//
// A Go program drives channels directly through [Engine.Channel]:
//
//	engine := sfu.New(sfu.Options{})
//	defer engine.Close(context.Background())
//	mux.Handle("/signaling", signaling.NewHandler(engine))
//
// Operators and adapters learn what happens through an [Observer] added
// with [Engine.AddObserver] (connects refused, connections and channels
// created and destroyed; the webhook and metrics packages are observers),
// and [Engine.Drain] stops admitting clients while existing ones finish.
//
// DataChannel signaling and messaging ([DataChannelOptions]): the engine
// opens a connection's DataChannels, emits [EventSwitched] when they are
// all open, carries the adapter's messages on them
// ([Connection.SendDataChannel], [Connection.DataChannelMessages]) and
// relays "#" messages to the channel's other connections itself;
// [Channel.SendMessage] and a [MessageHandler] let a Go program take part.
//
// Every operation of the management API is a method here first
// ([Engine.ListChannels], [Channel.DisconnectConnection],
// [Channel.RequestRtpStream], [Engine.StatsReport], ...); docs/api.md
// in the repository describes them with their HTTP form.
//
// Errors returned by the API can be matched with errors.Is against the
// sentinel errors ErrChannelNotFound, ErrConnectionNotFound,
// ErrInvalidArgument, ErrFeatureDisabled, ErrForwardNotFound, ErrClosed,
// ErrLimitExceeded and ErrRejected.
//
// Layering: the adapters (signaling, httpapi, webhook, metrics) and
// cmd/sfu sit above this package and use only its exported API; below it
// are the feature packages (spotlight, simulcast, metadata, stats,
// datachannel) and the media plane (forward). It never imports an
// adapter.
//
// Guarantees: an Engine, its Channel handles and Connections are safe for
// concurrent use. Each channel serialises its own control-plane changes
// and each connection has one negotiation outstanding at a time, later
// changes coalesced into the next re-offer. A client that stops draining
// its events is disconnected (EVENT-QUEUE-FULL) rather than allowed to
// block its channel. Forwarding allocates nothing per packet and takes no
// lock that the control plane holds long (package forward).
package sfu
