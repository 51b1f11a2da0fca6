package spotlight

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMeterAddLevel is the per-packet cost the forwarding path pays
// for spotlight: one audio packet's level folded into its window.
func BenchmarkMeterAddLevel(b *testing.B) {
	var m Meter
	b.ReportAllocs()
	for i := range b.N {
		m.AddLevel(uint8(i))
	}
}

// BenchmarkTick1000 is one decision tick of a channel of 1,000 senders,
// ten of them speaking, with four slots.
func BenchmarkTick1000(b *testing.B) {
	now := time.Unix(0, 0)
	d, err := New(Config{Number: 4, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	meters := make([]*Meter, 1000)
	for i := range meters {
		meters[i] = &Meter{}
		d.Join(fmt.Sprintf("s%04d", i), meters[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(DefaultWindow)
		b.StopTimer()
		for j, m := range meters {
			level := uint8(silent)
			if j%100 == 0 {
				level = uint8(loud + (i/30+j)%20) // speakers trade places
			}
			for range 5 {
				m.AddLevel(level)
			}
		}
		b.StartTimer()
		d.Tick()
	}
}
