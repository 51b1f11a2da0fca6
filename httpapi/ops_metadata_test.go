package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// The seed's six metadata examples, in its order, against one connection.
func TestMetadataSeedExamples(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	a := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, SignalingNotifyMetadata: map[string]int{"abc": 10}})
	other := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	id := a.ConnectionID()
	// The seed's requests as HTTPie sends them.
	seed := func(target, body string) answer {
		return e.do(t, http.MethodPost, map[string]string{
			"Accept": "application/json, */*;q=0.5", "Accept-Encoding": "gzip, deflate",
			"Content-Type": "application/json", "User-Agent": "HTTPie/2.2.0", "x-sora-target": target,
		}, body)
	}

	list := seed("Sora_20201124.ListSignalingNotifyMetadata", `{"channel_id": "sora"}`)
	list.ok(t, nil)
	jsonEqual(t, list.body, fmt.Sprintf(`[{"client_id": %q, "connection_id": %q, "metadata": {"abc": 10}}]`, id, id))

	put := seed("Sora_20201124.PutSignalingNotifyMetadata",
		fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "metadata": {"abc": "efg"}}`, id))
	put.ok(t, nil)
	jsonEqual(t, put.body, `{"abc": "efg"}`)

	get := seed("Sora_20201124.GetSignalingNotifyMetadata", fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, id))
	get.ok(t, nil)
	jsonEqual(t, get.body, `{"abc": "efg"}`)

	del := seed("Sora_20201124.DeleteSignalingNotifyMetadata", fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, id))
	del.ok(t, nil)
	jsonEqual(t, del.body, `{"abc": "efg"}`)

	item := seed("Sora_20201124.PutSignalingNotifyMetadataItem",
		fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "key": "abc", "value": "efg", "push": true}`, id))
	item.ok(t, nil)
	jsonEqual(t, item.body, `{"abc": "efg"}`)
	wantPush := fmt.Sprintf(`{"action": "PutMetadataItem", "connection_id": %q, "key": "abc", "type": "signaling_notify_metadata_ext", "value": "efg"}`, id)
	for _, c := range []*client.Client{a, other} {
		p, err := c.WaitPush(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, p, wantPush)
	}

	delItem := seed("Sora_20201124.DeleteSignalingNotifyMetadataItem",
		fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "key": "abc", "push": true}`, id))
	delItem.ok(t, nil)
	jsonEqual(t, delItem.body, `{}`)
	if err := other.Wait(ctx, func() bool { return len(other.Pushes()) == 2 }); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, other.Pushes()[1], fmt.Sprintf(`{"action": "DeleteMetadataItem", "connection_id": %q, "key": "abc", "type": "signaling_notify_metadata_ext"}`, id))
}

func TestMetadataErrors(t *testing.T) {
	e := newEnv(t, sfu.Options{MaxMetadataSize: 64})
	ctx := testContext(t, 30*time.Second)
	a := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	id := a.ConnectionID()
	tests := []struct {
		target, body string
		status       int
		errorType    string
	}{
		{"PutSignalingNotifyMetadata", `{"channel_id":"sora","connection_id":%q,"metadata":[1]}`, 400, "INVALID-PARAMETER"},
		{"PutSignalingNotifyMetadata", `{"channel_id":"sora","connection_id":%q}`, 400, "INVALID-PARAMETER"},
		{"PutSignalingNotifyMetadata", `{"channel_id":"sora","connection_id":%q,"metadata":{"a":"` + fmt.Sprintf("%070d", 0) + `"}}`, 400, "INVALID-PARAMETER"},
		{"PutSignalingNotifyMetadataItem", `{"channel_id":"sora","connection_id":%q,"key":"","value":1}`, 400, "INVALID-PARAMETER"},
		{"PutSignalingNotifyMetadataItem", `{"channel_id":"sora","connection_id":%q,"key":5,"value":1}`, 400, "INVALID-PARAMETER"},
		{"PutSignalingNotifyMetadataItem", `{"channel_id":"sora","connection_id":%q,"key":"k"}`, 400, "INVALID-PARAMETER"},
		{"PutSignalingNotifyMetadataItem", `{"channel_id":"sora","connection_id":%q,"key":"k","value":1,"push":"yes"}`, 400, "INVALID-PARAMETER"},
		{"GetSignalingNotifyMetadata", `{"channel_id":"nope","connection_id":%q}`, 404, "CHANNEL-NOT-FOUND"},
		{"GetSignalingNotifyMetadata", `{"channel_id":"sora","connection_id":"X%s"}`, 404, "CONNECTION-NOT-FOUND"},
	}
	for _, tt := range tests {
		a := e.call(t, "Sora_20201124."+tt.target, fmt.Sprintf(tt.body, id))
		msg := a.fails(t, tt.status, tt.errorType)
		t.Logf("%s: %s", tt.target, msg)
	}
	// A list of a channel that does not exist is empty, not an error.
	l := e.call(t, "Sora_20201124.ListSignalingNotifyMetadata", `{"channel_id":"nope"}`)
	var got []json.RawMessage
	l.ok(t, &got)
	if len(got) != 0 || string(l.body) != "[]" {
		t.Errorf("list of an unknown channel = %s, want []", l.body)
	}
}
