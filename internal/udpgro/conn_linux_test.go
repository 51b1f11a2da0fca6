//go:build linux

package udpgro

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listen opens the GRO conn and a plain sender on 127.0.0.1.
func listen(t *testing.T) (*Conn, *net.UDPConn) {
	t.Helper()
	c, err := Listen(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("this kernel should support UDP_GRO: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return c, s
}

// sendGSO sends payload from s to dst as one UDP GSO message of seg-byte
// segments.
func sendGSO(t *testing.T, s *net.UDPConn, dst netip.AddrPort, payload []byte, seg int) {
	t.Helper()
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(seg))
	rc, err := s.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Sendmsg(int(fd), payload, oob, &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}, 0)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("this kernel should accept a UDP_SEGMENT send: %v", serr)
	}
}

func datagram(n int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, n)
	b[0] = byte(n) // and a length mark, so that a misplaced cut shows
	return b
}

func TestReadSegments(t *testing.T) {
	c, s := listen(t)
	dst := c.LocalAddr().(*net.UDPAddr).AddrPort()
	want := [][]byte{datagram(100, 'a'), datagram(100, 'b'), datagram(100, 'c'), datagram(37, 'd'), datagram(80, 'e')}
	sendGSO(t, s, dst, bytes.Join(want[:4], nil), 100)
	if _, err := s.WriteToUDPAddrPort(want[4], dst); err != nil {
		t.Fatal(err)
	}
	sender := s.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 1500)
	for i, w := range want {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, from, err := c.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], w) || from != sender {
			t.Errorf("datagram %d: %d bytes %q... from %v, want %d bytes %q... from %v",
				i, n, buf[:min(n, 4)], from, len(w), w[:4], sender)
		}
		if i == 0 && c.end != 337 {
			// The point of the package: the GSO message came whole.
			t.Errorf("first read got a %d-byte datagram from the kernel, want the 337-byte GSO message", c.end)
		}
	}
	if msgs, segs := c.Coalesced(); msgs != 1 || segs != 4 {
		t.Errorf("Coalesced() = %d, %d; want 1, 4", msgs, segs)
	}
	// Nothing else is queued.
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.ReadFromAddrPort(buf); !isTimeout(err) {
		t.Errorf("extra read: %d bytes, %v; want a timeout", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestReadFromAndClose checks ReadFrom, WriteTo, short buffers and that a
// read after Close fails although segments are pending.
func TestReadFromAndClose(t *testing.T) {
	c, s := listen(t)
	dst := c.LocalAddr().(*net.UDPAddr).AddrPort()
	sendGSO(t, s, dst, bytes.Repeat([]byte("xyz"), 20), 30)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	short := make([]byte, 10)
	n, from, err := c.ReadFrom(short)
	if err != nil || n != 10 || from.String() != s.LocalAddr().String() {
		t.Fatalf("ReadFrom: %d, %v, %v", n, from, err)
	}
	// WriteTo goes out from the GRO socket.
	if _, err := c.WriteTo([]byte("back"), s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, from, err := s.ReadFromUDPAddrPort(short); err != nil || string(short[:n]) != "back" || from != dst {
		t.Fatalf("reply: %q from %v, %v", short[:n], from, err)
	}
	if c.end-c.off != 30 {
		t.Fatalf("%d bytes pending, want one 30-byte segment", c.end-c.off)
	}
	c.Close()
	if _, _, err := c.ReadFromAddrPort(short); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
}

// TestReadAllocs checks that reading allocates nothing.
func TestReadAllocs(t *testing.T) {
	c, s := listen(t)
	dst := c.LocalAddr().(*net.UDPAddr).AddrPort()
	const runs = 50
	for range runs + 1 { // AllocsPerRun runs once more to warm up
		sendGSO(t, s, dst, make([]byte, 300), 200)
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	allocs := testing.AllocsPerRun(runs, func() {
		for _, want := range []int{200, 100} {
			if n, _, err := c.ReadFromAddrPort(buf); err != nil || n != want {
				t.Fatalf("read %d bytes, %v; want %d", n, err, want)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per GSO message read", allocs)
	}
}
