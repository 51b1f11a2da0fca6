package metadata

import (
	"encoding/json"
	"testing"
)

// FuzzStore drives a store with arbitrary metadata, keys and values, as
// connect and the metadata API pass them on from clients: it must never
// panic, every answer must be valid JSON (an object where the operation
// makes one), and nothing over the size limit may be stored.
func FuzzStore(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[true,null]}`), "a", []byte(`"v"`))
	f.Add([]byte(`{}`), "", []byte(`{"x":{"y":[]}}`))
	f.Add([]byte(`[1]`), "k", []byte(`nul`))
	f.Add([]byte(`{"a":"\u0000"}`), "\xff", []byte(`1e999`))
	const max = 256
	f.Fuzz(func(t *testing.T, md []byte, key string, value []byte) {
		s := NewStore(max)
		check := func(op string, got json.RawMessage, object bool) {
			var obj map[string]json.RawMessage
			if got != nil && (!json.Valid(got) || object && json.Unmarshal(got, &obj) != nil) {
				t.Fatalf("%s answered %q, not a JSON %s", op, got, map[bool]string{true: "object", false: "value"}[object])
			}
			if len(s.Get("c")) > max {
				t.Fatalf("%s stored %d bytes, over the limit of %d", op, len(s.Get("c")), max)
			}
		}
		_ = s.Seed("c", md)
		check("Seed", s.Get("c"), false)
		if got, err := s.Put("c", md); err == nil {
			check("Put", got, true)
		}
		if got, err := s.PutItem("c", key, value); err == nil {
			check("PutItem", got, true)
		}
		if got, err := s.DeleteItem("c", key); err == nil {
			check("DeleteItem", got, true)
		}
		check("Delete", s.Delete("c"), false)
	})
}
