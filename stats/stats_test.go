package stats

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

type meter struct{ p, b atomic.Uint64 }

func (m *meter) Packets() uint64 { return m.p.Load() }
func (m *meter) Bytes() uint64   { return m.b.Load() }
func (m *meter) add(n, size uint64) {
	m.p.Add(n)
	m.b.Add(n * size)
}

func TestConnectionCounters(t *testing.T) {
	c := NewCollector()
	for range 3 {
		c.ConnectionCreated()
	}
	c.ConnectionConnected(100 * time.Millisecond)
	c.ConnectionConnected(300 * time.Millisecond)
	c.ConnectionUpdated()
	s := c.Snapshot()
	if s.ConnectionsOngoing != 3 || s.AverageSetup() != 200*time.Millisecond {
		t.Fatalf("live snapshot %+v", s)
	}
	c.ConnectionDestroyed(true, 1500*time.Millisecond)
	c.ConnectionDestroyed(true, 2600*time.Millisecond)
	c.ConnectionDestroyed(false, time.Hour) // never connected: duration ignored
	r := c.Snapshot().Report("v1")
	want := Report{
		Version: "v1", TotalConnectionCreated: 3, TotalConnectionUpdated: 1, TotalConnectionDestroyed: 3,
		TotalSuccessfulConnections: 2, TotalFailedConnections: 1, TotalOngoingConnections: 0,
		TotalDurationSec: 4, AverageDurationSec: 2, AverageSetupTimeMsec: 200,
	}
	if r != want {
		t.Errorf("report\n%+v\nwant\n%+v", r, want)
	}
}

func TestEmptyAverages(t *testing.T) {
	r := NewCollector().Snapshot().Report("")
	if r.AverageDurationSec != 0 || r.AverageSetupTimeMsec != 0 {
		t.Errorf("%+v", r)
	}
}

func TestAuthAndSessions(t *testing.T) {
	c := NewCollector()
	c.AuthResult(true, nil)
	c.AuthResult(false, nil)
	c.AuthResult(false, errTest{})
	c.SessionCreated()
	c.SessionCreated()
	c.SessionDestroyed()
	r := c.Snapshot().Report("")
	if r.TotalAuthWebhookAllowed != 1 || r.TotalAuthWebhookDenied != 1 || r.TotalSuccessfulAuthWebhook != 2 ||
		r.TotalFailedAuthWebhook != 1 || r.TotalSessionCreated != 2 || r.TotalSessionDestroyed != 1 {
		t.Errorf("%+v", r)
	}
}

type errTest struct{}

func (errTest) Error() string { return "test" }

func TestMetersKeepEndedTotals(t *testing.T) {
	c := NewCollector()
	in, out := &meter{}, &meter{}
	c.AddReceived(in)
	c.AddSent(out)
	in.add(10, 100)
	out.add(5, 100)
	s := c.Snapshot()
	if s.ReceivedPackets != 10 || s.ReceivedBytes != 1000 || s.SentPackets != 5 || s.SentBytes != 500 {
		t.Fatalf("%+v", s)
	}
	c.RemoveReceived(in)
	c.RemoveReceived(in) // twice: counted once
	in.add(1, 100)       // after removal: not counted
	in2 := &meter{}
	c.AddReceived(in2)
	in2.add(2, 10)
	s = c.Snapshot()
	if s.ReceivedPackets != 12 || s.ReceivedBytes != 1020 {
		t.Fatalf("%+v", s)
	}
	r := s.Report("")
	if r.TotalReceivedSRTP != 12 || r.TotalDecryptedSRTP != 12 || r.TotalSentSRTPByteSize != 500 {
		t.Errorf("%+v", r)
	}
}

func TestSnapshotsNeverDecrease(t *testing.T) {
	c := NewCollector()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := &meter{}
				c.AddSent(m)
				m.add(3, 10)
				c.RemoveSent(m)
			}
		}()
	}
	var last uint64
	for range 2000 {
		p := c.Snapshot().SentPackets
		if p < last {
			t.Fatalf("sent packets went from %d to %d", last, p)
		}
		last = p
	}
	close(stop)
	wg.Wait()
}

func TestReportJSONNames(t *testing.T) {
	b, err := json.Marshal(NewCollector().Snapshot().Report("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "total_connection_created", "total_connection_updated", "total_connection_destroyed",
		"total_successful_connections", "total_ongoing_connections", "total_failed_connections", "total_duration_sec",
		"total_turn_udp_connections", "total_turn_tcp_connections", "average_duration_sec", "average_setup_time_msec",
		"total_session_created", "total_session_destroyed", "total_received_srtp", "total_received_srtp_byte_size",
		"total_sent_srtp", "total_sent_srtp_byte_size", "total_decrypted_srtp", "total_decrypted_srtp_byte_size"} {
		if !strings.Contains(string(b), `"`+k+`":`) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}

func TestValidRemoteStats(t *testing.T) {
	for _, good := range []string{`[]`, ` [{"id":"a","timestamp":1586417622080.464}]`} {
		if !ValidRemoteStats(json.RawMessage(good)) {
			t.Errorf("rejected %q", good)
		}
	}
	for _, bad := range []string{``, `null`, `{}`, `"x"`, `[`, `[1,]`, `[` + strings.Repeat(`1,`, MaxRemoteStatsSize/2) + `1]`} {
		if ValidRemoteStats(json.RawMessage(bad)) {
			t.Errorf("accepted %.40q", bad)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// keyMeter is a published stream's meter with a key-frame count; the
// sent side's with retransmissions.
type keyMeter struct {
	meter
	keys, rtx atomic.Uint64
}

func (m *keyMeter) KeyFrames() uint64   { return m.keys.Load() }
func (m *keyMeter) Retransmits() uint64 { return m.rtx.Load() }

func TestKeyFramesAndRetransmitsKeepEndedTotals(t *testing.T) {
	c := NewCollector()
	in, out, plain := &keyMeter{}, &keyMeter{}, &meter{}
	c.AddReceived(in)
	c.AddReceived(plain) // no key-frame count: adds none
	c.AddSent(out)
	in.keys.Add(3)
	out.rtx.Add(2)
	c.RemoveReceived(in)
	in.keys.Add(5) // after removal: not counted
	s := c.Snapshot()
	if s.KeyFrames != 3 || s.Retransmits != 2 {
		t.Errorf("key frames %d, retransmits %d; want 3, 2", s.KeyFrames, s.Retransmits)
	}
	c.PLIReceived()
	c.FIRReceived()
	c.NACKReceived()
	c.NACKReceived()
	c.KeyFrameRequested()
	c.LayerSwitched()
	s = c.Snapshot()
	if s.PLIsReceived != 1 || s.FIRsReceived != 1 || s.NACKsReceived != 2 || s.KeyFrameRequests != 1 || s.LayerSwitches != 1 {
		t.Errorf("%+v", s)
	}
}

func TestWebhookReportNames(t *testing.T) {
	s := Snapshot{EventWebhookSuccessful: 1, EventWebhookFailed: 2, EventWebhookIgnored: 3,
		SessionWebhookSuccessful: 4, SessionWebhookFailed: 5, SessionWebhookIgnored: 6}
	b, err := json.Marshal(s.Report("x"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]int{"total_successful_event_webhook": 1, "total_failed_event_webhook": 2,
		"total_ignored_event_webhook": 3, "total_successful_session_webhook": 4,
		"total_failed_session_webhook": 5, "total_ignored_session_webhook": 6} {
		if want := `"` + k + `":` + string(rune('0'+v)); !strings.Contains(string(b), want) {
			t.Errorf("%s missing from %s", want, b)
		}
	}
}
