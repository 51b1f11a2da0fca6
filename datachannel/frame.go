package datachannel

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrTooLarge is returned when a message is, or inflates to, more than
// the limit.
var ErrTooLarge = errors.New("datachannel: message too large")

// Outgoing is one messaging payload on its way to its receivers. A
// receiver's label may ask for the sender's connection id first and for
// zlib compression; Frame builds each of the four forms once, on first
// use, and hands the same bytes to every receiver that wants that form.
// The zero value is ready; it is not safe for concurrent use.
type Outgoing struct {
	senderID string
	payload  []byte
	frames   [4][]byte
}

// Reset makes m carry payload (uncompressed, without header) from
// senderID, forgetting the frames built before. m keeps payload: the
// caller must not change it while m is in use.
func (m *Outgoing) Reset(senderID string, payload []byte) {
	m.senderID, m.payload = senderID, payload
	m.frames = [4][]byte{}
}

// Payload returns the payload as the sender sent it, decompressed.
func (m *Outgoing) Payload() []byte { return m.payload }

// Frame returns the bytes for a receiver whose label has header (the
// sender's connection id first) and compress (zlib) as given. The result
// is shared: read only.
func (m *Outgoing) Frame(header, compress bool) ([]byte, error) {
	if !header && !compress {
		return m.payload, nil
	}
	i := 0
	if header {
		i |= 1
	}
	if compress {
		i |= 2
	}
	if m.frames[i] != nil {
		return m.frames[i], nil
	}
	plain := m.payload
	if header {
		plain = make([]byte, 0, len(m.senderID)+len(m.payload))
		plain = append(append(plain, m.senderID...), m.payload...)
	}
	out := plain
	if compress {
		var err error
		if out, err = Compress(plain); err != nil {
			return nil, err
		}
	}
	m.frames[i] = out
	return out, nil
}

type deflater struct {
	buf bytes.Buffer
	w   *zlib.Writer
}

// Compression keeps its writers: a zlib writer's state is hundreds of
// kilobytes, too much to allocate per message.
var deflaters = sync.Pool{New: func() any {
	d := &deflater{}
	d.w = zlib.NewWriter(&d.buf)
	return d
}}

// Compress returns b as one zlib stream (RFC 1950), as the SDKs'
// CompressionStream("deflate") writes and reads it.
func Compress(b []byte) ([]byte, error) {
	d := deflaters.Get().(*deflater)
	defer deflaters.Put(d)
	d.buf.Reset()
	d.w.Reset(&d.buf)
	if _, err := d.w.Write(b); err != nil {
		return nil, fmt.Errorf("datachannel: compress: %w", err)
	}
	if err := d.w.Close(); err != nil {
		return nil, fmt.Errorf("datachannel: compress: %w", err)
	}
	return bytes.Clone(d.buf.Bytes()), nil
}

// Decompress inflates one zlib stream. It returns ErrTooLarge, having
// inflated at most limit+1 bytes, when the result would exceed limit:
// a small message may not expand into a large allocation.
func Decompress(b []byte, limit int) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("datachannel: decompress: %w", err)
	}
	defer r.Close()
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("datachannel: decompress: %w", err)
	}
	if n > int64(limit) {
		return nil, ErrTooLarge
	}
	return out.Bytes(), nil
}
