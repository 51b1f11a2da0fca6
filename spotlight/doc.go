// Package spotlight decides which senders of a spotlight channel are in
// focus: the few current speakers that every receiver gets in good
// quality with sound, while everyone else is forwarded small and silent.
//
// It is pure logic with an injected clock and no network: the root
// package feeds it each sender's audio levels (through a [Meter] the
// forwarding path writes, one atomic add per audio packet), joins and
// leaves, and the operator's calls (focus, pin, unfocus, number of
// slots), and calls [Detector.Tick] once per window; every call returns
// the list of changes, in the order they happened, which the root package
// turns into forwarding policy and spotlight.* notifies. A Detector is
// not safe for concurrent use (the channel serialises its calls); a
// Meter is.
//
// # Speaker detection
//
// Every Window (default 100 ms) the mean loudness of a sender's packets
// (127 minus the RFC 6464 level, so 0 is silence and 127 is 0 dBov) is
// smoothed with an exponential average (a quarter of each new window;
// about 400 ms to settle), and a sender whose smoothed loudness reaches
// 127 - VoiceLevel (default level 50, that is -50 dBov) is speaking. The
// level's voice-activity flag is not used: browsers set it only when the
// extension is negotiated with vad=on, and the level alone is enough.
//
// A speaker that is not in focus leads when a slot is free or when it is
// louder than a focused sender that is not pinned. After leading for
// Lead (default 1 s) without a break it takes the free slot, or the slot
// of the least recently active unpinned focused sender that it is louder
// than: someone who answers "yes" does not steal the picture, someone who
// goes on talking does. A sender focused by speech keeps its slot for
// Hold (default 3 s) after its last speaking window, so the focus does
// not flicker through the pauses between sentences; after that its slot
// is released (auto-unfocus, as Sora does by default).
//
// Ties break deterministically: among speakers ready in the same tick,
// the louder one first, then the one that joined first; among focused
// senders that could be replaced, the least recently active, then the
// one that joined first.
//
// # Operations
//
//   - [Detector.Focus] (FocusSpotlight) focuses a sender at once. It is
//     not released by silence, but speech may take its slot later like
//     any unpinned slot. Focusing a focused sender changes nothing.
//   - Focus with fixed (FocusSpotlightFixed) pins the sender: no speaker
//     can take a pinned slot, and only [Detector.Unfocus] releases it.
//     Pinning a sender already in focus keeps its slot and reports it
//     again with fixed true.
//   - When every slot is taken, an operator's focus replaces the least
//     recently active unpinned sender; when every slot is pinned, the
//     least recently pinned one: the newest instruction wins and the
//     focused set never exceeds the number of slots.
//   - [Detector.Unfocus] releases a focus or a pin; a sender that goes on
//     speaking may take a slot again by speech. Unfocusing a sender not
//     in focus changes nothing.
//   - [Detector.SetNumber] (1 to 8) applies at once: when it shrinks,
//     unpinned senders leave first (least recently active first), then
//     pins (least recently pinned first), and those left in slots beyond
//     the new number move down; when it grows, speakers take the new
//     slots from the next tick.
//   - A sender that leaves frees its slot, reported as unfocused.
//
// # Changes
//
// Slots are numbered from 0. Each change of a slot's occupant is
// reported as Unfocused for the sender that left it, Focused for the one
// that took it, then SlotChanged with the slot's new occupant ("" for
// an empty slot). The root package sends them as spotlight.unfocused,
// spotlight.focused and spotlight.changed (whose spotlight_id is the
// slot number and whose connection_id is null for an empty slot).
// Fixed tells whether the sender is pinned; on Unfocused, whether the
// focus that ended was pinned.
package spotlight
