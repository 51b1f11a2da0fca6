// Package stats counts what an SFU engine does, for the management API's
// GetStatsReport, and keeps the latest statistics each client reported
// (RTCStats sent in pongs) for the remote-stats operations.
//
// It is pure Go: it does not import pion nor the root package. The engine
// calls the Collector's methods at the points of a connection's life
// (accepted, connected, re-negotiated, ended) and registers every packet
// meter (a published source, a down-track) while it is live; a Snapshot
// sums the meters of ended streams and those still live, so packet and
// byte totals never go down.
//
// Layering: a feature package below the root sfu package, which serves
// its Report through Engine.StatsReport (and httpapi as GetStatsReport).
// Guarantees: a Collector is safe for concurrent use and its counters are
// atomics, so counting adds no lock and no allocation to the media path;
// a remote-stats report is kept only when it is a JSON array of at most
// MaxRemoteStatsSize bytes.
package stats
