package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestStoreOperations(t *testing.T) {
	type step struct {
		op      string // seed, put, delete, putItem, deleteItem, get, remove
		md      string // metadata or value
		key     string
		want    string // returned metadata ("" = nil)
		wantErr error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"get of nothing is nil", []step{{op: "get", want: ""}}},
		{"seed then get", []step{{op: "seed", md: `{"name":"alice"}`}, {op: "get", want: `{"name":"alice"}`}}},
		{"seed any JSON", []step{{op: "seed", md: `"alice"`}, {op: "get", want: `"alice"`}}},
		{"seed null is none", []step{{op: "seed", md: `null`}, {op: "get", want: ""}}},
		{"put returns after", []step{{op: "put", md: `{"abc":"efg"}`, want: `{"abc":"efg"}`}, {op: "get", want: `{"abc":"efg"}`}}},
		{"put replaces", []step{{op: "put", md: `{"a":1}`, want: `{"a":1}`}, {op: "put", md: `{"b":2}`, want: `{"b":2}`}}},
		{"put needs an object", []step{{op: "put", md: `[1]`, wantErr: ErrNotObject}, {op: "put", md: `"x"`, wantErr: ErrNotObject}, {op: "put", md: `null`, wantErr: ErrNotObject}}},
		{"delete returns before", []step{{op: "put", md: `{"abc":"efg"}`, want: `{"abc":"efg"}`}, {op: "delete", want: `{"abc":"efg"}`}, {op: "get", want: ""}}},
		{"delete of nothing is {}", []step{{op: "delete", want: `{}`}}},
		{"put item adds a key", []step{{op: "put", md: `{"a":1}`, want: `{"a":1}`}, {op: "putItem", key: "b", md: `"x"`, want: `{"a":1,"b":"x"}`}}},
		{"put item on nothing", []step{{op: "putItem", key: "abc", md: `"efg"`, want: `{"abc":"efg"}`}}},
		{"put item replaces a non-object", []step{{op: "seed", md: `"alice"`}, {op: "putItem", key: "k", md: `true`, want: `{"k":true}`}}},
		{"put item any JSON value", []step{{op: "putItem", key: "k", md: `{"n":[1,2]}`, want: `{"k":{"n":[1,2]}}`}}},
		{"put item empty key", []step{{op: "putItem", key: "", md: `1`, wantErr: ErrEmptyKey}}},
		{"delete item returns after", []step{{op: "put", md: `{"a":1,"b":2}`, want: `{"a":1,"b":2}`}, {op: "deleteItem", key: "a", want: `{"b":2}`}}},
		{"delete missing item is fine", []step{{op: "deleteItem", key: "abc", want: `{}`}, {op: "get", want: ""}}},
		{"remove returns last", []step{{op: "put", md: `{"a":1}`, want: `{"a":1}`}, {op: "remove", want: `{"a":1}`}, {op: "get", want: ""}}},
		{"too large", []step{{op: "put", md: `{"a":"` + strings.Repeat("x", 100) + `"}`, wantErr: ErrTooLarge}, {op: "putItem", key: "a", md: `"` + strings.Repeat("x", 100) + `"`, wantErr: ErrTooLarge}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(64)
			for i, st := range tt.steps {
				var got json.RawMessage
				var err error
				switch st.op {
				case "seed":
					err = s.Seed("c", json.RawMessage(st.md))
					got = json.RawMessage(st.want)
				case "put":
					got, err = s.Put("c", json.RawMessage(st.md))
				case "delete":
					got = s.Delete("c")
				case "putItem":
					got, err = s.PutItem("c", st.key, json.RawMessage(st.md))
				case "deleteItem":
					got, err = s.DeleteItem("c", st.key)
				case "get":
					got = s.Get("c")
				case "remove":
					got = s.Remove("c")
				}
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d %s: err = %v, want %v", i, st.op, err, st.wantErr)
				}
				if st.wantErr == nil && string(got) != st.want {
					t.Fatalf("step %d %s: got %s, want %s", i, st.op, got, st.want)
				}
			}
		})
	}
}

func TestStoreConcurrent(t *testing.T) {
	s := NewStore(1 << 10)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := fmt.Sprintf("c%d", w%2)
			for i := range 500 {
				switch i % 4 {
				case 0:
					s.Put(conn, json.RawMessage(fmt.Sprintf(`{"w":%d}`, w)))
				case 1:
					s.PutItem(conn, fmt.Sprintf("k%d", w), json.RawMessage(`1`))
				case 2:
					s.DeleteItem(conn, "w")
				case 3:
					s.Delete(conn)
				}
				if md := s.Get(conn); md != nil && !json.Valid(md) {
					t.Errorf("invalid metadata %s", md)
				}
			}
		}()
	}
	wg.Wait()
}

func TestPushData(t *testing.T) {
	got := string(PushData(ActionPutItem, "C1", nil, "abc", json.RawMessage(`"efg"`)))
	want := `{"type":"signaling_notify_metadata_ext","action":"PutMetadataItem","connection_id":"C1","key":"abc","value":"efg"}`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	got = string(PushData(ActionPut, "C1", json.RawMessage(`{"a":1}`), "", nil))
	want = `{"type":"signaling_notify_metadata_ext","action":"PutMetadata","connection_id":"C1","metadata":{"a":1}}`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
