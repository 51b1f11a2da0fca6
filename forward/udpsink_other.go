//go:build !unix

package forward

import "net"

// sender writes datagrams with the socket's ordinary Write (which may
// wait while the socket's buffer is full; the non-blocking write is
// Unix-only).
type sender struct{ conn *net.UDPConn }

func newSender(conn *net.UDPConn) (*sender, error) { return &sender{conn: conn}, nil }

func (s *sender) write(b []byte) bool {
	_, err := s.conn.Write(b)
	return err == nil
}
