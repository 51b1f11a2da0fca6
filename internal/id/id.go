// Package id generates the 26-character connection ids Sora clients
// expect: 128 random bits in Crockford's base32 alphabet. New is safe
// for concurrent use.
package id

import (
	"crypto/rand"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Length is the length of an id.
const Length = 26

// New returns a new random id.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	var out [Length]byte
	// 26 * 5 = 130 bits; the first character carries the top 3 bits.
	var acc uint64
	bits := 2 // two leading zero bits pad 128 to 130
	j := 0
	for _, x := range b {
		acc = acc<<8 | uint64(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[j] = alphabet[(acc>>uint(bits))&31]
			j++
		}
	}
	return string(out[:j])
}

// Valid reports whether s looks like an id from New.
func Valid(s string) bool {
	if len(s) != Length {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return false
		}
	}
	return true
}
