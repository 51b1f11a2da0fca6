package sfu

import (
	"strings"
	"testing"
)

func TestAddRecvSimulcast(t *testing.T) {
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=recvonly\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:2\r\na=sendonly\r\n"
	got := addRecvSimulcast(sdp, "1", DefaultSimulcastEncodings)
	want := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=recvonly\r\n" +
		"a=rid:r0 recv\r\na=rid:r1 recv\r\na=rid:r2 recv\r\na=simulcast:recv r0;r1;r2\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:2\r\na=sendonly\r\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The last section, and an SDP that has them already.
	got = addRecvSimulcast(sdp, "2", DefaultSimulcastEncodings[:2])
	if !strings.HasSuffix(got, "a=sendonly\r\na=rid:r0 recv\r\na=rid:r1 recv\r\na=simulcast:recv r0;r1\r\n") {
		t.Errorf("last section: got\n%s", got)
	}
	if again := addRecvSimulcast(got, "2", DefaultSimulcastEncodings); again != got {
		t.Error("added simulcast lines twice")
	}
}
