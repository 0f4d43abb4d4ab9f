// Package scalar holds Arxi's validated scalar values (SPEC §2): digests,
// UUIDv7 identifiers, UTC timestamps, key ids and the identifier strings of
// envelopes.
//
// Constructors validate and JSON decoding goes through them, so a value that
// breaks a rule cannot exist in memory. Failures are *errcode.Error values
// with code input.field_invalid (or input.non_utc_time for a timestamp with
// an offset); decoders add the field name.
//
// Fixed-size values (Digest, UUID, KeyID) are arrays: comparable, usable as
// map keys, copied by value. Their UnmarshalText never half-writes: on error
// the receiver keeps its old value.
package scalar

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
)

// Digest is a SHA-256 digest, written "sha256:" followed by 64 lowercase hex
// digits.
type Digest [32]byte

const digestPrefix = "sha256:"

// DigestTextLen is the length of a digest's text form.
const DigestTextLen = len(digestPrefix) + 64

// Sum returns the SHA-256 digest of b.
func Sum(b []byte) Digest { return sha256.Sum256(b) }

// ParseDigest parses the text form of a digest. Only sha256 is supported in
// v1; uppercase hex is rejected.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != DigestTextLen || s[:len(digestPrefix)] != digestPrefix {
		return d, errcode.New(errcode.InputFieldInvalid, "digest %s is not \"sha256:\" followed by 64 lowercase hex digits", quoteShort(s))
	}
	if !decodeLowerHex(d[:], s[len(digestPrefix):]) {
		return d, errcode.New(errcode.InputFieldInvalid, "digest %s is not \"sha256:\" followed by 64 lowercase hex digits", quoteShort(s))
	}
	return d, nil
}

// ParseHexDigest parses 64 lowercase hex digits without the prefix, the form
// Decision Gate and key ids use.
func ParseHexDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 64 || !decodeLowerHex(d[:], s) {
		return d, errcode.New(errcode.InputFieldInvalid, "%s is not 64 lowercase hex digits", quoteShort(s))
	}
	return d, nil
}

// String returns the text form.
func (d Digest) String() string { return string(d.Append(make([]byte, 0, DigestTextLen))) }

// Hex returns the 64 lowercase hex digits without the prefix.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// Append appends the text form to b.
func (d Digest) Append(b []byte) []byte {
	b = append(b, digestPrefix...)
	return appendHex(b, d[:])
}

// IsZero reports whether d is all zero bytes.
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText implements encoding.TextMarshaler.
func (d Digest) MarshalText() ([]byte, error) { return d.Append(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// KeyID identifies an Ed25519 public key: the SHA-256 of its 32 raw bytes,
// written as 64 lowercase hex digits (SPEC §2).
type KeyID [32]byte

// KeyIDOf returns the key id of a raw public key.
func KeyIDOf(publicKey []byte) KeyID { return sha256.Sum256(publicKey) }

// ParseKeyID parses 64 lowercase hex digits.
func ParseKeyID(s string) (KeyID, error) {
	var k KeyID
	if len(s) != 64 || !decodeLowerHex(k[:], s) {
		return k, errcode.New(errcode.InputFieldInvalid, "key id %s is not 64 lowercase hex digits", quoteShort(s))
	}
	return k, nil
}

// String returns the hex form.
func (k KeyID) String() string { return hex.EncodeToString(k[:]) }

// Append appends the hex form to b.
func (k KeyID) Append(b []byte) []byte { return appendHex(b, k[:]) }

// MarshalText implements encoding.TextMarshaler.
func (k KeyID) MarshalText() ([]byte, error) { return k.Append(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *KeyID) UnmarshalText(b []byte) error {
	v, err := ParseKeyID(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// decodeLowerHex decodes exactly len(dst)*2 lowercase hex digits.
func decodeLowerHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := lowerHexVal[s[2*i]], lowerHexVal[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0x0f
	}
	return bad&0x80 == 0
}

// lowerHexVal maps '0'-'9' and 'a'-'f' to their values and every other
// byte to 0xff.
var lowerHexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// quoteShort quotes s for an error message, shortened to 80 bytes.
func quoteShort(s string) string {
	if short := errcode.Abbrev(s, 80); len(short) < len(s) {
		return quote(strings.TrimSuffix(short, "…")) + "…"
	}
	return quote(s)
}

// Compare orders digests by their bytes; it returns -1, 0 or +1.
func (d Digest) Compare(e Digest) int { return bytes.Compare(d[:], e[:]) }

// Compare orders key ids by their bytes; it returns -1, 0 or +1.
func (k KeyID) Compare(l KeyID) int { return bytes.Compare(k[:], l[:]) }
