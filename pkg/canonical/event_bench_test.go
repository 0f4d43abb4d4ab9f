package canonical_test

import (
	"bytes"
	"testing"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/canonical"
)

// eventLines returns 64 events of the targets benchmark, without their
// newlines.
func eventLines() [][]byte {
	lines := make([][]byte, 64)
	for i := range lines {
		lines[i] = bytes.TrimSuffix(events.Bench.Line(i), []byte("\n"))
	}
	return lines
}

// BenchmarkTransformEvent canonicalises the 1 KiB events of the targets
// benchmark (internal/events), whose objects are not sorted: the work of
// arxi-seal's decoders, one line per op.
func BenchmarkTransformEvent(b *testing.B) {
	lines := eventLines()
	var c canonical.Canonicalizer
	var dst []byte
	b.SetBytes(int64(len(lines[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var err error
		if dst, err = c.Append(dst[:0], lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckEvent checks the canonical form of the same events: the
// work of arxi-append's decoders on a sealed line's text.
func BenchmarkCheckEvent(b *testing.B) {
	lines := eventLines()
	for i, l := range lines {
		var err error
		if lines[i], err = canonical.Transform(l); err != nil {
			b.Fatal(err)
		}
	}
	var c canonical.Canonicalizer
	b.SetBytes(int64(len(lines[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if ok, err := c.Check(lines[i%len(lines)]); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
