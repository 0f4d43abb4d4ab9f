package evidence_test

import (
	"bytes"
	"context"
	"testing"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
)

// BenchmarkDecode decodes the ~1 KiB events of events.Bench from their canonical
// lines: unsealed as arxi-seal reads them, sealed envelopes as arxi-append
// and arxi-verify do.
func BenchmarkDecode(b *testing.B) {
	const n = 1000
	in := events.Bench.Lines(0, n)
	var unsealed [][]byte
	for line := range bytes.Lines(in) {
		unsealed = append(unsealed, bytes.TrimSuffix(line, []byte("\n")))
	}
	s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench")})
	if err != nil {
		b.Fatal(err)
	}
	var sealed bytes.Buffer
	if _, err := sealing.Stream(context.Background(), s, bytes.NewReader(in), &sealed, sealing.StreamOptions{}); err != nil {
		b.Fatal(err)
	}
	var envelopes [][]byte
	for line := range bytes.Lines(sealed.Bytes()) {
		if bytes.Contains(line, []byte(`"record":"envelope"`)) {
			envelopes = append(envelopes, bytes.TrimSuffix(line, []byte("\n")))
		}
	}
	for _, bc := range []struct {
		name  string
		lines [][]byte
	}{{"unsealed", unsealed}, {"envelope", envelopes}} {
		b.Run(bc.name, func(b *testing.B) {
			size := 0
			for _, l := range bc.lines {
				size += len(l)
			}
			b.SetBytes(int64(size / len(bc.lines)))
			b.ReportAllocs()
			b.ResetTimer()
			d := evidence.NewDecoder(evidence.DefaultLimits)
			var buf []byte
			for i := range b.N {
				line := bc.lines[i%len(bc.lines)]
				var err error
				if bc.name == "unsealed" {
					_, buf, err = d.Unsealed(buf[:0], line)
				} else {
					_, err = d.Sealed(line)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
