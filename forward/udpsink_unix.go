//go:build unix

package forward

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// sender writes datagrams on a connected, non-blocking socket with one
// system call and no wait: EAGAIN (buffer full) and ECONNREFUSED (an
// earlier datagram met a closed port) are a failed write, not a stop.
type sender struct {
	rc  syscall.RawConn
	pkt []byte
	ok  bool
	do  func(fd uintptr) bool // s.send, bound once: no closure per packet
}

func newSender(conn *net.UDPConn) (*sender, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("forward: RTP socket: %w", err)
	}
	s := &sender{rc: rc}
	s.do = s.send
	return s, nil
}

// write sends b and reports whether the socket took it.
func (s *sender) write(b []byte) bool {
	s.pkt, s.ok = b, false
	if err := s.rc.Write(s.do); err != nil {
		return false
	}
	return s.ok
}

func (s *sender) send(fd uintptr) bool {
	_, err := unix.Write(int(fd), s.pkt)
	s.ok = err == nil
	return true // done either way: never wait for the socket to drain
}
