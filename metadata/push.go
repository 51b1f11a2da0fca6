package metadata

import "encoding/json"

// PushType is the "type" of the data of a metadata push message.
const PushType = "signaling_notify_metadata_ext"

// Actions named in a push's data: the API operation that changed the
// metadata. Only PutMetadataItem is confirmed against Sora; the others
// follow it by analogy.
const (
	ActionPut        = "PutMetadata"
	ActionDelete     = "DeleteMetadata"
	ActionPutItem    = "PutMetadataItem"
	ActionDeleteItem = "DeleteMetadataItem"
)

// Push is the data of a push message announcing a metadata change:
// {"type":"signaling_notify_metadata_ext","action":...,"connection_id":...}
// with "metadata" for PutMetadata, "key" and "value" for PutMetadataItem,
// and "key" for DeleteMetadataItem.
type Push struct {
	Type         string          `json:"type"`
	Action       string          `json:"action"`
	ConnectionID string          `json:"connection_id"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	Key          string          `json:"key,omitempty"`
	Value        json.RawMessage `json:"value,omitempty"`
}

// PushData returns the serialized data of a push for a change.
func PushData(action, connID string, metadata json.RawMessage, key string, value json.RawMessage) json.RawMessage {
	b, _ := json.Marshal(Push{ // cannot fail: every field is valid JSON or a string
		Type: PushType, Action: action, ConnectionID: connID, Metadata: metadata, Key: key, Value: value,
	})
	return b
}
