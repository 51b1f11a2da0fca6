// Package benchmarks measures gosfu's media plane against a pion baseline
// and guards zero-allocation forwarding. It sits beside the library (it
// imports forward and the root package, nothing imports it) and holds
// only _test.go files.
//
// BenchmarkFanout forwards one 1200-byte packet to N subscribers through
// gosfu's forward.Source and DownTracks and through pion's
// TrackLocalStaticRTP, without SRTP and with AES-128-GCM; the gosfu rows
// report pion-ratio, their time over the baseline's measured right after
// them. BenchmarkLayerSwitch and BenchmarkChurn add simulcast switches
// and subscribers joining and leaving; BenchmarkMessaging measures
// DataChannel messages through a real engine.
//
//	go test -run '^$' -bench 'Fanout/impl=(gosfu|pion)/srtp=none/subs=100$' -count 6 ./benchmarks/
//
// The tests (TestForwardZeroAllocsGCM, TestForwardZeroAllocsRealPeerConnection)
// hold forwarding at 0 allocations per packet with testing.AllocsPerRun,
// through a real pion PeerConnection and the engine's own SRTP egress.
// docs/performance.md has the current figures and the method.
package benchmarks
