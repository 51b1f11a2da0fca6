// Command sfu-load is a load generator for gosfu (or any server speaking
// Sora's WebSocket signaling) on loopback: it measures forwarded packets
// per second, loss, duplicates, one-way latency and the server's CPU time
// per forwarded packet (docs/performance.md describes the method), the
// same for DataChannel messages (-mode messaging), and the server's cost
// of keeping idle connections (-mode idle).
//
// In each of -channels channels, -publishers sendonly clients publish a
// synthetic VP8 track (-video-bitrate kbps at -fps; a frame of n packets
// of 1100-1200 payload bytes on average, split as libwebrtc does: sizes
// differing by at most one byte; written back-to-back; a key frame
// every -keyframe-interval and after every PLI or FIR) and, with -audio,
// an Opus track (50 packets/s of 100 bytes). -subscribers recvonly clients
// per channel read every track. Every client is a pion PeerConnection with
// an empty interceptor registry (publishers only watch incoming RTCP for
// PLI and FIR) and, by default, SRTP forced to AEAD_AES_128_GCM.
//
// Every payload carries a 24-byte probe right after the codec header (the
// VP8 payload descriptor, plus the VP8 frame header on the first packet of
// a frame; the Opus TOC byte): publisher index, a 64-bit counter per
// publisher and kind, and the send time in monotonic nanoseconds since the
// process started. The server rewrites RTP sequence numbers, so
// subscribers count loss from gaps in the counter, and duplicates and
// reordering with a 4096-counter window; one-way latency (write on the
// publisher to read on the subscriber, same process and clock) goes into
// a log-linear histogram.
//
// After everyone is connected and a -warmup, the generator samples at the
// start and end of a -duration window: forwarded = packets received by all
// subscribers, loss = counter gaps, and, with -server-pid, the server's
// utime+stime from /proc/<pid>/stat (CPU-seconds per million forwarded
// packets and microseconds per forwarded packet); its own CPU time is
// reported the same way as a sanity check (keep it below ~90 % of a core).
// Progress goes to stderr every -progress; the summary goes to stdout, as
// text or, with -json, as JSON. Then every client disconnects and the
// command exits.
//
// All traffic goes to the signaling URL's host, which must be a loopback
// address: ICE is restricted to 127.0.0.1 over UDP and no proxy is used.
//
// With -gro, every subscriber reads from its own UDP socket with UDP GRO
// on (Linux; see internal/udpgro) instead of pion's default sockets.
// On loopback the kernel runs the receiver's input path inside the
// sender's send call: a receiving socket without GRO makes it cut every
// UDP GSO message the server sends back into datagrams and queue and
// wake the subscriber once per datagram, all charged to the server's
// CPU; with GRO the message is queued whole, as after a real network's
// receive offload. Comparing runs with and without -gro shows that part
// of the server's CPU per forwarded packet; the summary says which it is.
//
//	go run ./cmd/sfu --listen 127.0.0.1:5000 --udp-port 5000 --interface lo &
//	go run ./cmd/sfu-load -subscribers 100 -duration 30s -server-pid $!
//
// With -mode messaging it measures DataChannel messaging instead:
// -senders clients (sendonly on label "#load") and -receivers clients
// (recvonly), all messaging clients as sora-js-sdk's messaging() makes
// them (no audio, no video, DataChannel signaling, WebSocket closed after
// "switched"), in channel <prefix>-messaging. Each sender sends -rate
// messages per second of -message-size bytes for -duration; each message
// starts with the sender's index, a sequence number and the send time.
// The summary gives messages sent, deliveries expected (sent x
// receivers), received, lost (still missing 5 s after the senders
// stopped), duplicates, deliveries per second and the one-way latency
// (p50, p99, max). The server's per-connection limits apply (by default
// 100 messages/s with bursts of 200; see sfu.DataChannelOptions): a rate
// over them shows as loss.
//
//	go run ./cmd/sfu-load -mode messaging -senders 5 -receivers 100 -rate 20 -duration 30s
//
// With -mode idle it measures what connections cost the server while
// nothing happens: it samples the empty server's CPU time for
// -idle-baseline, connects -channels × -subscribers recvonly clients
// (channels <prefix>-idle-<n>; nothing is published), waits -warmup and
// samples the server over -duration. The summary gives the server's CPU
// as a share of a core, empty and with the connections, the CPU time per
// connection per second above the empty server's, resident memory per
// connection, and how many connections ended early. It needs
// -server-pid. What the server then spends is pings and pongs with the
// clients' statistics, answers to the clients' ICE consent checks and
// timers.
//
//	SUBSCRIBERS=10 scripts/load.sh -mode idle -channels 50
//
// scripts/load.sh runs both inside a network namespace that has only lo.
package main
