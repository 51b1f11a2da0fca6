package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// paramError is a key that is missing, of the wrong JSON type or out of
// range: INVALID-PARAMETER.
type paramError struct {
	key string
	msg string
}

func (e *paramError) Error() string { return fmt.Sprintf("%s: %s", e.key, e.msg) }

// params reads an operation's keys from the request object. The first
// problem is kept in err; later reads return zero values. A key whose
// value is null counts as absent.
type params struct {
	raw map[string]json.RawMessage
	err error
}

func (p *params) fail(key, format string, args ...any) {
	if p.err == nil {
		p.err = &paramError{key: key, msg: fmt.Sprintf(format, args...)}
	}
}

// get returns the raw value of key, or nil when absent or null.
func (p *params) get(key string) json.RawMessage {
	v, ok := p.raw[key]
	if !ok || bytes.Equal(v, []byte("null")) {
		return nil
	}
	return v
}

// has reports whether key is present and not null.
func (p *params) has(key string) bool { return p.get(key) != nil }

// str reads a required, non-empty string.
func (p *params) str(key string) string {
	if p.err != nil {
		return ""
	}
	if !p.has(key) {
		p.fail(key, "missing")
		return ""
	}
	return p.optStr(key)
}

// optStr reads an optional string ("" when absent); present, it must be a
// non-empty string.
func (p *params) optStr(key string) string {
	v := p.get(key)
	if p.err != nil || v == nil {
		return ""
	}
	var s string
	if v[0] != '"' || json.Unmarshal(v, &s) != nil {
		p.fail(key, "must be a string")
		return ""
	}
	if s == "" {
		p.fail(key, "must not be empty")
	}
	return s
}

// integer reads a required integer in [lo, hi].
func (p *params) integer(key string, lo, hi int64) int64 {
	if p.err != nil {
		return 0
	}
	v := p.get(key)
	if v == nil {
		p.fail(key, "missing")
		return 0
	}
	var f float64
	if json.Unmarshal(v, &f) != nil || f != math.Trunc(f) {
		p.fail(key, "must be an integer")
		return 0
	}
	if f < float64(lo) || f > float64(hi) {
		p.fail(key, "must be between %d and %d", lo, hi)
		return 0
	}
	return int64(f)
}

// optBool reads an optional boolean (false when absent).
func (p *params) optBool(key string) bool {
	v := p.get(key)
	if p.err != nil || v == nil {
		return false
	}
	var b bool
	if json.Unmarshal(v, &b) != nil {
		p.fail(key, "must be a boolean")
	}
	return b
}

// object reads a required JSON object, as it was sent.
func (p *params) object(key string) json.RawMessage {
	if p.err != nil {
		return nil
	}
	v := p.get(key)
	if v == nil {
		p.fail(key, "missing")
		return nil
	}
	if v[0] != '{' {
		p.fail(key, "must be an object")
		return nil
	}
	return v
}
