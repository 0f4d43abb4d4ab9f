package scalar

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"arxi.dev/arxi/pkg/errcode"
	"github.com/google/uuid"
)

// UUID is a version 7 UUID (RFC 9562), written in the lowercase canonical
// 36-character form. Arxi derives its identifiers deterministically
// (SPEC §5.6) and draws random ones only when an operator asks for the clock.
type UUID [16]byte

// UUIDTextLen is the length of a UUID's text form.
const UUIDTextLen = 36

// ParseUUID parses the lowercase canonical form of a version 7 UUID with the
// RFC 9562 variant. Uppercase, braces, URNs and other versions are rejected.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != UUIDTextLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, errcode.New(errcode.InputFieldInvalid, "%s is not a lowercase canonical UUID", quoteShort(s))
	}
	var tmp UUID
	j := 0
	for _, span := range [5][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
		n := (span[1] - span[0]) / 2
		if !decodeLowerHex(tmp[j:j+n], s[span[0]:span[1]]) {
			return u, errcode.New(errcode.InputFieldInvalid, "%s is not a lowercase canonical UUID", quoteShort(s))
		}
		j += n
	}
	if tmp[6]>>4 != 7 {
		return u, errcode.New(errcode.InputFieldInvalid, "%s is a version %d UUID, want version 7", quoteShort(s), tmp[6]>>4)
	}
	if tmp[8]&0xC0 != 0x80 {
		return u, errcode.New(errcode.InputFieldInvalid, "%s does not have the RFC 9562 variant", quoteShort(s))
	}
	return tmp, nil
}

// String returns the canonical form.
func (u UUID) String() string { return string(u.Append(make([]byte, 0, UUIDTextLen))) }

// Append appends the canonical form to b.
func (u UUID) Append(b []byte) []byte {
	n := len(b)
	b = slices.Grow(b, UUIDTextLen)[:n+UUIDTextLen]
	t := b[n:]
	putHex(t[0:8], u[0:4])
	putHex(t[9:13], u[4:6])
	putHex(t[14:18], u[6:8])
	putHex(t[19:23], u[8:10])
	putHex(t[24:36], u[10:16])
	t[8], t[13], t[18], t[23] = '-', '-', '-', '-'
	return b
}

// IsZero reports whether u is the all-zero value (never a valid UUIDv7).
func (u UUID) IsZero() bool { return u == UUID{} }

// MarshalText implements encoding.TextMarshaler.
func (u UUID) MarshalText() ([]byte, error) { return u.Append(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// DeriveUUID7 is uuid7(t, seed) of SPEC §5.6: bytes 0–5 are the Unix
// milliseconds of t, big-endian; bytes 6–15 are the first 10 bytes of
// SHA-256(seed), with the version and variant bits set.
func DeriveUUID7(t Timestamp, seed []byte) UUID {
	var u UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(u[0:6], ms[2:8])
	h := sha256.Sum256(seed)
	copy(u[6:16], h[:10])
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}

// NewRandomUUID7 returns a clock-based random UUIDv7, for the paths where an
// operator explicitly asks for the clock (opening a segment by hand).
func NewRandomUUID7() (UUID, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return UUID{}, errcode.Wrap(errcode.Internal, err, "generate UUIDv7")
	}
	return UUID(u), nil
}

// Compare orders UUIDs by their bytes, which for UUIDv7 is time order;
// it returns -1, 0 or +1.
func (u UUID) Compare(v UUID) int { return bytes.Compare(u[:], v[:]) }
