package arena

import (
	"bytes"
	"strings"
	"testing"
)

// TestArena: values keep their bytes when later values fill a chunk and
// the arena moves on to the next, a value longer than a chunk gets one of
// its own, nil stays nil, and Reset reuses the chunk.
func TestArena(t *testing.T) {
	var a Arena
	if a.Bytes(nil) != nil || a.String("") != "" {
		t.Fatal("nil or empty values are not nil or empty")
	}
	var got [][]byte
	var want [][]byte
	for i := range 3000 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i%100)
		got, want = append(got, a.Bytes(p)), append(want, bytes.Clone(p))
		p[0] ^= 0xff // the caller's memory changes; the copy does not
	}
	big := a.Bytes(make([]byte, 2*Chunk))
	s := a.String(strings.Repeat("x", 10))
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("value %d changed: %v, want %v", i, got[i], want[i])
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("value %d can grow into its neighbour: cap %d", i, cap(got[i]))
		}
	}
	if len(big) != 2*Chunk || s != "xxxxxxxxxx" {
		t.Fatalf("big value %d bytes, string %q", len(big), s)
	}
	a.Reset()
	if p := a.Bytes([]byte("y")); &p[0] != &a.buf[0] {
		t.Error("Reset did not reuse the chunk")
	}
}
