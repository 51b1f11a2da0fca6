// Package bwe estimates the downlink bandwidth available to one
// subscriber connection from what the subscriber reports: transport-cc
// feedback (the arrival time, or loss, of every packet the engine sent,
// numbered transport-wide) and, for a client that sends only that, REMB.
//
// The estimator is send-side and small, in the spirit of Google
// congestion control (draft-ietf-rmcat-gcc): a delay signal (queuing
// delay, measured against the lowest one-way delay of the last seconds)
// and a loss signal each cut the estimate to what was actually delivered;
// while neither shows congestion the estimate grows a few percent a
// second, but never far above the rate acknowledged, so only traffic that
// got through (media or probe padding) raises it. A REMB caps the
// estimate while it is fresh.
//
// It does not use pion/interceptor's gcc package because that estimator
// owns a pacer and wraps pion's write path, which the engine's own SRTP
// egress bypasses; here the egress keeps its per-packet cost (a counter
// and a clock read) and the estimator runs per feedback, a few times a
// second.
//
// Layering: a pure-logic feature package below the root sfu package; it
// imports nothing of gosfu, takes its clock as a function, and is tested
// with a simulated bottleneck. An Estimator is not safe for concurrent
// use.
package bwe
