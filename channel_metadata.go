package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/gosfu/sfu/metadata"
)

// MetadataEntry is one connection's signaling-notify metadata.
type MetadataEntry struct {
	ConnectionID string          `json:"connection_id"`
	ClientID     string          `json:"client_id"`
	Metadata     json.RawMessage `json:"metadata"`
}

// ListMetadata returns the metadata of every connection of the channel
// that has some. A channel that does not exist has none.
func (ch *Channel) ListMetadata(ctx context.Context) ([]MetadataEntry, error) {
	r := ch.engine.room(ch.id)
	if r == nil {
		return []MetadataEntry{}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []MetadataEntry{}
	for _, c := range r.conns {
		if md := r.meta.Get(c.id); md != nil {
			out = append(out, MetadataEntry{ConnectionID: c.id, ClientID: c.clientID, Metadata: md})
		}
	}
	return out, nil
}

// GetMetadata returns a connection's metadata ({} when it has none).
func (ch *Channel) GetMetadata(ctx context.Context, connID string) (json.RawMessage, error) {
	return ch.changeMetadata(connID, false, func(s *metadata.Store) (json.RawMessage, json.RawMessage, error) {
		md := s.Get(connID)
		if md == nil {
			md = json.RawMessage(`{}`)
		}
		return md, nil, nil
	})
}

// PutMetadata replaces a connection's metadata with md (a JSON object) and
// returns it. With push, every connection of the channel, the target too,
// receives a push announcing the change.
func (ch *Channel) PutMetadata(ctx context.Context, connID string, md json.RawMessage, push bool) (json.RawMessage, error) {
	return ch.changeMetadata(connID, push, func(s *metadata.Store) (json.RawMessage, json.RawMessage, error) {
		after, err := s.Put(connID, md)
		return after, metadata.PushData(metadata.ActionPut, connID, after, "", nil), err
	})
}

// DeleteMetadata removes a connection's metadata and returns what it was
// ({} when it had none; never an error for that).
func (ch *Channel) DeleteMetadata(ctx context.Context, connID string, push bool) (json.RawMessage, error) {
	return ch.changeMetadata(connID, push, func(s *metadata.Store) (json.RawMessage, json.RawMessage, error) {
		return s.Delete(connID), metadata.PushData(metadata.ActionDelete, connID, nil, "", nil), nil
	})
}

// PutMetadataItem sets one key of a connection's metadata and returns the
// metadata after the change.
func (ch *Channel) PutMetadataItem(ctx context.Context, connID, key string, value json.RawMessage, push bool) (json.RawMessage, error) {
	return ch.changeMetadata(connID, push, func(s *metadata.Store) (json.RawMessage, json.RawMessage, error) {
		after, err := s.PutItem(connID, key, value)
		return after, metadata.PushData(metadata.ActionPutItem, connID, nil, key, value), err
	})
}

// DeleteMetadataItem removes one key of a connection's metadata and
// returns the metadata after the change. A missing key is not an error.
func (ch *Channel) DeleteMetadataItem(ctx context.Context, connID, key string, push bool) (json.RawMessage, error) {
	return ch.changeMetadata(connID, push, func(s *metadata.Store) (json.RawMessage, json.RawMessage, error) {
		after, err := s.DeleteItem(connID, key)
		return after, metadata.PushData(metadata.ActionDeleteItem, connID, nil, key, nil), err
	})
}

// changeMetadata runs change on the channel's store under the channel's
// lock, so that the pushes of concurrent changes leave in the order the
// changes were made, and a connection that is leaving is not changed.
func (ch *Channel) changeMetadata(connID string, push bool,
	change func(*metadata.Store) (result, pushData json.RawMessage, err error)) (json.RawMessage, error) {
	c, err := ch.Connection(connID)
	if err != nil {
		return nil, err
	}
	r := c.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.conns, c) {
		return nil, ErrConnectionNotFound
	}
	result, data, err := change(r.meta)
	if err != nil {
		return nil, metadataError(err)
	}
	if push {
		for _, o := range r.conns {
			o.emit(Event{Kind: EventPush, Push: data})
		}
	}
	return result, nil
}

func metadataError(err error) error {
	switch {
	case errors.Is(err, metadata.ErrEmptyKey):
		return invalid("key", "must be a non-empty string")
	case errors.Is(err, metadata.ErrNotObject):
		return invalid("metadata", "must be a JSON object")
	case errors.Is(err, metadata.ErrTooLarge):
		return invalid("metadata", "%s", strings.TrimPrefix(err.Error(), "metadata: "))
	}
	return invalid("value", "%s", strings.TrimPrefix(err.Error(), "metadata: "))
}
