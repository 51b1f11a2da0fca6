package cluster

import "testing"

func TestLocalOnly(t *testing.T) {
	for body, want := range map[string]bool{
		``:                   false,
		`{}`:                 false,
		`{"local": true}`:    true,
		`{"local": false}`:   false,
		`{"local": "yes"}`:   false, // not a boolean: each node refuses it
		`{"channel_id":"x"}`: false,
		`not json`:           false,
	} {
		if got := localOnly([]byte(body)); got != want {
			t.Errorf("localOnly(%q) = %v, want %v", body, got, want)
		}
	}
}
