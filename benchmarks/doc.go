// Package benchmarks holds the media-plane benchmarks of gosfu and the
// tests that guard zero-allocation forwarding. Everything is in _test.go
// files; see RESULTS.md for figures and the commands that produce them.
package benchmarks
