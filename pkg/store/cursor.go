package store

import (
	"encoding/base64"
	"encoding/binary"

	"arxi.dev/arxi/pkg/errcode"
)

// Cursor is a position in a query's results: the store position of the
// last envelope returned, and a fingerprint of the filter it belongs to.
// Its text form is opaque to users: 23 characters of unpadded base64url
// over a version byte, the 8-byte fingerprint and the 8-byte big-endian
// position.
type Cursor struct {
	Position uint64
	Filter   [8]byte
}

const cursorVersion = 1

const cursorLen = 1 + 8 + 8

// String returns the cursor's text form.
func (c Cursor) String() string {
	var b [cursorLen]byte
	b[0] = cursorVersion
	copy(b[1:9], c.Filter[:])
	binary.BigEndian.PutUint64(b[9:], c.Position)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseCursor parses a cursor's text form. Anything but the exact form
// String writes is usage.invalid.
func ParseCursor(s string) (Cursor, error) {
	bad := &errcode.Error{Code: errcode.UsageInvalid, Field: "cursor", Msg: "not a cursor returned by arxi-query",
		Hint: "pass the next_cursor value of the previous page unchanged"}
	if len(s) != base64.RawURLEncoding.EncodedLen(cursorLen) {
		return Cursor{}, bad
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion {
		return Cursor{}, bad
	}
	c := Cursor{Position: binary.BigEndian.Uint64(b[9:])}
	copy(c.Filter[:], b[1:9])
	if c.Position == 0 {
		return Cursor{}, bad
	}
	return c, nil
}
