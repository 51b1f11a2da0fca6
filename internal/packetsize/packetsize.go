// Package packetsize splits a video frame into RTP packet sizes the way
// libwebrtc's packetizer does, and so the way browsers send: sizes
// differ by at most one byte, the smaller ones first. The load generator
// and the browser tests' Go publisher use it to send what a browser
// would.
package packetsize

// AboutEqual is the size of packet i of n that carry total bytes.
func AboutEqual(total, n, i int) int {
	size := total / n
	if i >= n-total%n {
		size++
	}
	return size
}

// Count is how many packets of at most max bytes total bytes need.
func Count(total, max int) int { return (total + max - 1) / max }
