// Package client is a Go client for the Sora-compatible WebSocket signaling
// spoken by gosfu (and by Shiguredo Sora), built on pion/webrtc v4.
//
// It is used by the project's tests, by load generators and by bots. A
// client opens one WebSocket and one PeerConnection, sends "connect", answers
// the server's "offer" (the server is always the offerer), trickles its own
// ICE candidates, answers every "re-offer" strictly in order, replies to
// "ping" (with pion's statistics when asked) and reports "notify" and "push"
// messages:
//
//	c, err := client.Dial(ctx, client.Config{
//		URL:       "ws://127.0.0.1:5000/signaling",
//		ChannelID: "room",
//		Role:      "sendrecv",
//		Tracks:    []webrtc.TrackLocal{audioTrack, videoTrack},
//		OnTrack: func(t *client.RemoteTrack) {
//			for {
//				if _, _, err := t.Track.ReadRTP(); err != nil {
//					return
//				}
//			}
//		},
//	})
//	if err != nil {
//		var ce *client.CloseError
//		if errors.As(err, &ce) {
//			log.Printf("rejected: %d %s", ce.Code, ce.Reason)
//		}
//		return err
//	}
//	defer c.Close()
//	...
//	err = c.Disconnect(ctx)
//
// Dial returns once the PeerConnection is connected. A "redirect" before
// the offer (a cluster node sending the client to the channel's owner) is
// followed: Dial connects to its location and sends connect again with
// "redirect": true, up to Config.MaxRedirects times. Everything the server
// sent is also kept by the client, so that tests can wait for it without
// sleeping: [Client.WaitNotify], [Client.WaitPush], [Client.WaitReOffers],
// [Client.WaitRemoteTracks] and the general [Client.Wait].
//
// Tracks given in [Config.Tracks] are attached to the transceivers the
// server named in the offer's "mid" object (never with AddTrack, which could
// pick another publisher's m-line). Their codec must be one the server
// offered for that m-line: the server does not transcode, so a VP8 track
// needs Config.VideoCodecType "VP8".
//
// With [Config.DataChannelSignaling] the client accepts the server's
// DataChannels and, after "switched", answers re-offers, sends its
// candidates and disconnect on the signaling DataChannel and reads
// notifies and pushes from theirs ([Client.WaitSwitched]); with
// [Config.IgnoreDisconnectWebSocket] it then closes its WebSocket and
// answers the server's req-stats on the stats DataChannel, as
// sora-js-sdk does. [Client.SendMessage] sends on a "#" label (deflated
// when the offer says compress); [Client.Messages], [Client.WaitMessages]
// or [Config.OnDataChannelMessage] give what arrives, inflated.
//
// By default ([NewAPI] with LoopbackOnly) all ICE runs on 127.0.0.1 over UDP4,
// and the STUN/TURN servers of the offer's "config" are ignored unless
// [Config.UseOfferICEServers] is set, so the client contacts only the
// signaling URL and the server's own candidates.
//
// Layering: client is a peer of the server, not part of it: it imports
// only pion, the shared codec table and the datachannel wire types, never
// the engine, so what it tests goes over the wire. A Client's methods may
// be called from any goroutine. OnNotify, OnPush, OnMessage, OnReOffer and
// OnDataChannelMessage run one at a time, in arrival order, on the
// client's own goroutine; OnTrack runs in a goroutine per track and
// OnSenderRTCP in the RTCP reader of its track.
package client
