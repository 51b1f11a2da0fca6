package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Errors returned by Store methods; match them with errors.Is.
var (
	// ErrNotObject: metadata set through the API must be a JSON object.
	ErrNotObject = errors.New("metadata: not a JSON object")
	// ErrTooLarge: the connection's metadata, serialized, would exceed
	// the store's limit.
	ErrTooLarge = errors.New("metadata: too large")
	// ErrEmptyKey: an item key must be a non-empty string.
	ErrEmptyKey = errors.New("metadata: empty key")
)

var emptyObject = json.RawMessage(`{}`)

// Store is one channel's metadata, keyed by connection id. It is safe for
// concurrent use. Values are kept serialized, so reads return them as they
// were stored.
type Store struct {
	maxSize int

	mu      sync.Mutex
	entries map[string]json.RawMessage
}

// NewStore returns an empty store whose entries are at most maxSize bytes
// serialized.
func NewStore(maxSize int) *Store {
	return &Store{maxSize: maxSize, entries: map[string]json.RawMessage{}}
}

// Seed sets a connection's metadata as its client sent it at connect: any
// JSON value (null or empty means none).
func (s *Store) Seed(connID string, md json.RawMessage) error {
	if len(md) == 0 || bytes.Equal(md, []byte("null")) {
		return nil
	}
	if len(md) > s.maxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(md), s.maxSize)
	}
	if !json.Valid(md) {
		return fmt.Errorf("metadata: invalid JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[connID] = clone(md)
	return nil
}

// Get returns a connection's metadata, or nil when it has none.
func (s *Store) Get(connID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[connID]
}

// Put replaces a connection's metadata with md, which must be a JSON
// object. It returns the metadata after the change.
func (s *Store) Put(connID string, md json.RawMessage) (json.RawMessage, error) {
	obj, err := decodeObject(md)
	if err != nil {
		return nil, err
	}
	out, err := s.encode(obj)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[connID] = out
	return out, nil
}

// Delete removes a connection's metadata and returns what it was ({} when
// there was none).
func (s *Store) Delete(connID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	before, ok := s.entries[connID]
	delete(s.entries, connID)
	if !ok {
		return emptyObject
	}
	return before
}

// PutItem sets one key of a connection's metadata object and returns the
// metadata after the change. Metadata that was not an object is replaced
// by a new object.
func (s *Store) PutItem(connID, key string, value json.RawMessage) (json.RawMessage, error) {
	if key == "" {
		return nil, ErrEmptyKey
	}
	if !json.Valid(value) {
		return nil, fmt.Errorf("metadata: value is not valid JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.objectLocked(connID)
	obj[key] = clone(value)
	out, err := s.encode(obj)
	if err != nil {
		return nil, err
	}
	s.entries[connID] = out
	return out, nil
}

// DeleteItem removes one key of a connection's metadata and returns the
// metadata after the change. A missing key is not an error.
func (s *Store) DeleteItem(connID, key string) (json.RawMessage, error) {
	if key == "" {
		return nil, ErrEmptyKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.objectLocked(connID)
	delete(obj, key)
	out, err := s.encode(obj)
	if err != nil {
		return nil, err
	}
	if _, ok := s.entries[connID]; ok || len(obj) > 0 {
		s.entries[connID] = out
	}
	return out, nil
}

// Remove forgets a connection (it ended) and returns its last metadata.
func (s *Store) Remove(connID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	md := s.entries[connID]
	delete(s.entries, connID)
	return md
}

// objectLocked decodes a connection's metadata as an object; anything
// else (none, or a non-object seeded at connect) gives an empty one.
func (s *Store) objectLocked(connID string) map[string]json.RawMessage {
	obj, err := decodeObject(s.entries[connID])
	if err != nil || obj == nil {
		return map[string]json.RawMessage{}
	}
	return obj
}

func (s *Store) encode(obj map[string]json.RawMessage) (json.RawMessage, error) {
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(out) > s.maxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(out), s.maxSize)
	}
	return out, nil
}

func decodeObject(md json.RawMessage) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(md, &obj); err != nil || obj == nil {
		return nil, ErrNotObject
	}
	return obj, nil
}

func clone(b json.RawMessage) json.RawMessage { return append(json.RawMessage(nil), b...) }
