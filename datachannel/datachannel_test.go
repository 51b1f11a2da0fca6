package datachannel

import (
	"bytes"
	"errors"
	"testing"
)

func u16(v uint16) *uint16 { return &v }

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []Spec
		field string // "" = valid
	}{
		{"defaults", []Spec{{Label: "#a"}}, ""},
		{"full", []Spec{{Label: "#a", Direction: RecvOnly, MaxRetransmits: u16(0), Protocol: "p", Compress: true, Header: []HeaderField{{Type: HeaderSenderConnectionID}}}}, ""},
		{"empty label", []Spec{{}}, "label"},
		{"no #", []Spec{{Label: "a"}}, "label"},
		{"only #", []Spec{{Label: "#"}}, "label"},
		{"long label", []Spec{{Label: "#" + string(bytes.Repeat([]byte{'a'}, MaxLabelLength))}}, "label"},
		{"bad UTF-8", []Spec{{Label: "#\xff"}}, "label"},
		{"duplicate", []Spec{{Label: "#a"}, {Label: "#a"}}, "label"},
		{"direction", []Spec{{Label: "#a", Direction: "both"}}, "direction"},
		{"both reliabilities", []Spec{{Label: "#a", MaxPacketLifeTime: u16(1), MaxRetransmits: u16(1)}}, "max_packet_life_time"},
		{"header type", []Spec{{Label: "#a", Header: []HeaderField{{Type: "time"}}}}, "header"},
		{"two headers", []Spec{{Label: "#a", Header: []HeaderField{{Type: HeaderSenderConnectionID}, {Type: HeaderSenderConnectionID}}}}, "header"},
		{"long protocol", []Spec{{Label: "#a", Protocol: string(bytes.Repeat([]byte{'p'}, MaxProtocolLength+1))}}, "protocol"},
		{"too many", make([]Spec, MaxSpecs+1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.specs)
			if tc.name == "too many" {
				var se *SpecError
				if !errors.As(err, &se) || se.Field != "" {
					t.Fatalf("err = %v, want a list error", err)
				}
				return
			}
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.specs[0].Direction == "" {
					t.Fatal("direction default not filled")
				}
				return
			}
			var se *SpecError
			if !errors.As(err, &se) || se.Field != tc.field {
				t.Fatalf("err = %v, want field %q", err, tc.field)
			}
		})
	}
	specs := []Spec{{Label: "#a"}}
	if err := Validate(specs); err != nil || specs[0].Direction != SendRecv {
		t.Fatalf("default direction = %q, %v", specs[0].Direction, err)
	}
}

func TestFrames(t *testing.T) {
	const sender = "0123456789ABCDEFGHJKMNPQRS"
	payload := []byte("hello, hello, hello")
	var m Outgoing
	m.Reset(sender, payload)
	for _, tc := range []struct {
		header, compress bool
		want             string
	}{
		{false, false, string(payload)},
		{true, false, sender + string(payload)},
		{false, true, string(payload)},
		{true, true, sender + string(payload)},
	} {
		got, err := m.Frame(tc.header, tc.compress)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := m.Frame(tc.header, tc.compress)
		if &got[0] != &again[0] {
			t.Errorf("header=%v compress=%v: built twice", tc.header, tc.compress)
		}
		if tc.compress {
			if got, err = Decompress(got, 1<<10); err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != tc.want {
			t.Errorf("header=%v compress=%v: %q, want %q", tc.header, tc.compress, got, tc.want)
		}
	}
	plain, _ := m.Frame(false, false)
	if &plain[0] != &payload[0] {
		t.Error("the plain frame is a copy")
	}
}

func TestDecompressBounds(t *testing.T) {
	big, err := Compress(make([]byte, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decompress(big, 1<<20-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1 MiB bomb under a smaller limit: %v, want ErrTooLarge", err)
	}
	if out, err := Decompress(big, 1<<20); err != nil || len(out) != 1<<20 {
		t.Fatalf("at the limit: %d bytes, %v", len(out), err)
	}
	if _, err := Decompress([]byte("not zlib"), 100); err == nil || errors.Is(err, ErrTooLarge) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestDirections(t *testing.T) {
	if !SendRecv.Sends() || !SendRecv.Receives() || !SendOnly.Sends() || SendOnly.Receives() || RecvOnly.Sends() || !RecvOnly.Receives() {
		t.Fatal("direction semantics")
	}
}

// TestFrameAllocsPerReceiver: a message's frames are built once per form;
// every further receiver of that form costs no allocation.
func TestFrameAllocsPerReceiver(t *testing.T) {
	var m Outgoing
	m.Reset("0123456789ABCDEFGHJKMNPQRS", bytes.Repeat([]byte("x"), 500))
	for _, f := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		if _, err := m.Frame(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, f := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			if _, err := m.Frame(f[0], f[1]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per receiver", allocs)
	}
}
