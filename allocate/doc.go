// Package allocate decides, for one subscriber connection, which layer of
// each down-track its downlink can carry.
//
// The engine feeds an [Allocator] the connection's estimate of available
// downlink bitrate (from transport-cc feedback or REMB) and a description
// of every down-track: audio or video, its importance, the bitrate of each
// layer the publisher is sending, and the highest layer the receiver allows
// (a RequestRtpStream cap, or the top layer for "auto"). [Allocator.Update]
// answers with the layer to forward for each track, which tracks were
// paused or resumed (the engine tells the receiver with a notify), and how
// much probing traffic to send.
//
// The rules, in order:
//   - Audio is always forwarded and its bitrate is reserved first.
//   - Video is served by importance (spotlight focus and explicitly
//     requested streams rank above the rest): first every track gets its
//     lowest layer while the budget lasts, then tracks are raised in the
//     same order. A track whose lowest layer does not fit is paused, so the
//     least important video pauses first; a track that was flowing is
//     paused only once the shortage has lasted PauseAfter (2 s), so that
//     a dip of the estimate does not blank the picture.
//   - When what is being forwarded exceeds the estimate, tracks step down
//     at once, as far as needed.
//   - A track steps up one layer at a time and only after a probe: the
//     allocator asks for padding that brings what the connection receives
//     above the step's goal, for ProbeDuration, and commits the step only
//     if the estimate measured meanwhile covers it. It probes whether the
//     estimate covers the next layer or not: the estimate grows only with
//     traffic the downlink delivered, and a probe is that traffic. A probe
//     fails at once when the estimate falls below where it started.
//   - No probe starts within Hold of the last step down or failed probe
//     (doubled for each failed probe in a row, up to 8 Hold), nor within
//     Hold of the previous step up or of the allocator's creation, which
//     bounds oscillation to one cycle every few seconds whatever the
//     estimate does, and makes a downlink that cannot carry more see a
//     probe ever more rarely.
//
// Layering: a pure-logic feature package below the root sfu package; it
// imports nothing of gosfu or pion, takes its clock as a function, and is
// tested with tables. An Allocator is not safe for concurrent use; the
// engine calls it from one goroutine per connection, a few times a second,
// never per packet.
package allocate
