package packetsize

import "testing"

// TestAboutEqual checks the libwebrtc-like split of a frame: the sizes
// add up, differ by at most one byte and never shrink.
func TestAboutEqual(t *testing.T) {
	for _, c := range []struct{ total, n int }{{6250, 6}, {1200, 1}, {7000, 7}, {6603, 6}} {
		sum, prev := 0, 0
		for i := range c.n {
			s := AboutEqual(c.total, c.n, i)
			if i > 0 && (s < prev || s > prev+1) {
				t.Errorf("%v: packet %d is %d bytes after %d", c, i, s, prev)
			}
			sum, prev = sum+s, s
		}
		if sum != c.total {
			t.Errorf("%v: sizes add up to %d", c, sum)
		}
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct{ total, max, want int }{{0, 1099, 0}, {1, 1099, 1}, {1099, 1099, 1}, {1100, 1099, 2}, {30877, 1099, 29}} {
		if got := Count(c.total, c.max); got != c.want {
			t.Errorf("Count(%d, %d) = %d, want %d", c.total, c.max, got, c.want)
		}
	}
}
