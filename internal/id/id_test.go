package id

import "testing"

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := New()
		if !Valid(s) {
			t.Fatalf("New() = %q: not a valid id", s)
		}
		if seen[s] {
			t.Fatalf("duplicate id %q", s)
		}
		seen[s] = true
	}
}

func TestValid(t *testing.T) {
	for _, s := range []string{"", "abc", "0123456789ABCDEFGHJKMNPQRSI", "0123456789abcdefghjkmnpqrs", "0123456789ABCDEFGHJKMNPQRU"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
	if !Valid("0123456789ABCDEFGHJKMNPQRS") {
		t.Error("Valid rejected a good id")
	}
}
