package sfu

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gosfu/sfu/internal/udpbatch"
	"github.com/gosfu/sfu/stats"
)

// modulePath is this module's path, to find its version in the build
// information.
const modulePath = "github.com/gosfu/sfu"

var version = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if bi.Main.Path == modulePath && bi.Main.Version != "" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "(devel)"
})

// Version returns the version of this module as recorded in the binary's
// build information ("(devel)" for a build from a working tree).
func Version() string { return version() }

// Stats returns the engine's counters since it was created: connections
// created, connected, re-negotiated, ended; their setup times and
// durations; sessions (channel lifetimes); packets and bytes received from
// publishers and sent to subscribers, and how many of them the engine's
// own SRTP paths opened and sealed; with Options.BatchSends, the batched
// socket's system calls, GSO messages and send drops; key frames, RTCP
// feedback and layer switches; DataChannel messages both ways; and the
// counters of observers that keep their own (webhook deliveries).
func (e *Engine) Stats() stats.Snapshot {
	s := e.stats.Snapshot()
	if b, ok := e.pion.batch.(interface{ Stats() udpbatch.Stats }); ok {
		u := b.Stats()
		s.SendCalls, s.GSOMessages, s.GSOPackets, s.SendDrops = u.Batches, u.GSOMessages, u.GSOSegments, u.Drops
	}
	if in := e.pion.in; in != nil {
		s.OpenedPackets, s.OpenRejects = in.Opened(), in.Rejected()
	}
	dc := e.dcCounters.Snapshot()
	s.SCTPReceivedMessages, s.SCTPReceivedBytes = dc.ReceivedMessages, dc.ReceivedBytes
	s.SCTPSentMessages, s.SCTPSentBytes = dc.SentMessages, dc.SentBytes
	e.contributeStats(&s)
	return s
}

// StatsReport returns the counters shaped as Sora's GetStatsReport.
func (e *Engine) StatsReport() stats.Report { return e.Stats().Report(Version()) }

// RemoteStats is the latest statistics report a client sent in a pong.
type RemoteStats struct {
	ChannelID    string
	ConnectionID string
	// Stats is the client's JSON array of RTCStats objects, unchanged.
	Stats json.RawMessage
	// Timestamp is when the report arrived.
	Timestamp time.Time
}

// RemoteStats returns the latest report of every connection that sent
// one, channels sorted by id, connections in join order.
func (e *Engine) RemoteStats() []RemoteStats {
	out := []RemoteStats{}
	for _, ch := range e.Channels() {
		out = append(out, ch.RemoteStats()...)
	}
	return out
}

// RemoteStats returns the latest report of each of the channel's
// connections that sent one, in join order. It is empty (not an error)
// for a channel that does not exist.
func (ch *Channel) RemoteStats() []RemoteStats {
	out := []RemoteStats{}
	for _, c := range ch.Connections() {
		if r := c.remote.Load(); r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// ConnectionRemoteStats returns the connection's latest report. A
// connection that has not sent one yet gets an empty Stats array ("[]")
// and a zero Timestamp.
func (ch *Channel) ConnectionRemoteStats(ctx context.Context, connID string) (RemoteStats, error) {
	c, err := ch.Connection(connID)
	if err != nil {
		return RemoteStats{}, err
	}
	if r := c.remote.Load(); r != nil {
		return *r, nil
	}
	return RemoteStats{ChannelID: ch.id, ConnectionID: c.id, Stats: json.RawMessage("[]")}, nil
}
