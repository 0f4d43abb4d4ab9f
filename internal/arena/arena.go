// Package arena copies many small byte slices and strings into a few
// large allocations: one allocation per chunk costs less than one per
// value, and a value handed out is never written again until Reset.
package arena

import "unsafe"

// Chunk is the size of an arena's allocations; a longer value gets one of
// its own.
const Chunk = 64 << 10

// Arena is the zero value ready to use.
type Arena struct{ buf []byte }

// Bytes returns a copy of p in the arena (nil for nil). A full chunk is
// replaced, not grown in place, so what was handed out keeps its bytes.
func (a *Arena) Bytes(p []byte) []byte {
	if p == nil {
		return nil
	}
	if len(p) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(Chunk, len(p)))
	}
	n := len(a.buf)
	a.buf = append(a.buf, p...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// String returns a copy of s in the arena.
func (a *Arena) String(s string) string {
	if s == "" {
		return ""
	}
	b := a.Bytes(unsafe.Slice(unsafe.StringData(s), len(s)))
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Reset reuses the current chunk from its start: every value handed out
// since it was allocated must be dead.
func (a *Arena) Reset() { a.buf = a.buf[:0] }
