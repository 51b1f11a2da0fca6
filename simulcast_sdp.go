package sfu

import (
	"strings"
)

// Encoding is one simulcast layer as the client's sender is told to
// encode it (offer.encodings; the keys of RTCRtpEncodingParameters).
type Encoding struct {
	RID                   string  `json:"rid"`
	Active                bool    `json:"active"`
	ScaleResolutionDownBy float64 `json:"scaleResolutionDownBy,omitempty"`
	MaxBitrate            int     `json:"maxBitrate,omitempty"`
	MaxFramerate          float64 `json:"maxFramerate,omitempty"`
	ScalabilityMode       string  `json:"scalabilityMode,omitempty"`
}

// DefaultSimulcastEncodings are the layers a simulcast publisher sends:
// quarter, half and full resolution, one temporal layer each (without
// scalabilityMode Chrome picks L1T3).
var DefaultSimulcastEncodings = []Encoding{
	{RID: "r0", Active: true, ScaleResolutionDownBy: 4, MaxBitrate: 150_000, ScalabilityMode: "L1T1"},
	{RID: "r1", Active: true, ScaleResolutionDownBy: 2, MaxBitrate: 500_000, ScalabilityMode: "L1T1"},
	{RID: "r2", Active: true, ScaleResolutionDownBy: 1, MaxBitrate: 1_500_000, ScalabilityMode: "L1T1"},
}

// addRecvSimulcast declares the rids of encodings as received on the
// m-line whose mid is mid: a=rid:<rid> recv for each, then
// a=simulcast:recv in the same order. pion cannot offer receive rids
// itself and rejects a munged SetLocalDescription, so only the copy sent
// to the client is changed; once the client's answer carries the send
// rids, pion's later offers mirror them on their own.
func addRecvSimulcast(sdp, mid string, encodings []Encoding) string {
	if mid == "" || len(encodings) == 0 || strings.Contains(sdp, "a=simulcast:") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\r\n")
	var out strings.Builder
	inSection, done := false, false
	flush := func() {
		if inSection && !done {
			rids := make([]string, len(encodings))
			for i, e := range encodings {
				rids[i] = e.RID
				out.WriteString("a=rid:" + e.RID + " recv\r\n")
			}
			out.WriteString("a=simulcast:recv " + strings.Join(rids, ";") + "\r\n")
			done = true
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "m=") {
			flush()
			inSection = false
		}
		if strings.TrimRight(l, "\r\n") == "a=mid:"+mid {
			inSection = true
		}
		out.WriteString(l)
	}
	flush()
	return out.String()
}
