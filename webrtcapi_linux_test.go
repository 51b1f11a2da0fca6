package sfu

import (
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSizeBuffers checks that the shared UDP socket gets the buffers
// asked for, as far as the kernel's maximum allows (Linux reports twice
// the size set, its bookkeeping overhead included).
func TestSizeBuffers(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 1 << 20
	sizeBuffers(c, size, slog.New(slog.DiscardHandler))
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name, sysctl string
		opt          int
	}{{"receive", "rmem_max", unix.SO_RCVBUF}, {"send", "wmem_max", unix.SO_SNDBUF}} {
		b, err := os.ReadFile("/proc/sys/net/core/" + o.sysctl)
		if err != nil {
			t.Fatal(err)
		}
		limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var gerr error
		if err := rc.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, o.opt) }); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		if want := 2 * min(size, limit); got < want {
			t.Errorf("%s buffer %d bytes, want at least %d (asked %d, %s %d)", o.name, got, want, size, o.sysctl, limit)
		}
	}
}
