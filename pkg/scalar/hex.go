package scalar

import (
	"encoding/binary"
	"slices"
)

// hexPairs[c] is the two lowercase hex digits of c, first digit in the
// low byte: one load and one store a byte, where encoding/hex makes two
// of each. Digests and UUIDs are written several times into every line.
var hexPairs = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = uint16(digits[i>>4]) | uint16(digits[i&15])<<8
	}
	return t
}()

// appendHex appends the lowercase hex digits of src to b, as
// hex.AppendEncode does.
func appendHex(b, src []byte) []byte {
	n := len(b)
	b = slices.Grow(b, 2*len(src))[:n+2*len(src)]
	putHex(b[n:], src)
	return b
}

// putHex writes the hex digits of src to dst, which holds 2*len(src)
// bytes.
func putHex(dst, src []byte) {
	_ = dst[2*len(src)-1]
	for i, c := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], hexPairs[c])
	}
}
