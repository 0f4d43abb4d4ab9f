package evidence_test

import (
	"bytes"
	"context"
	"testing"

	"arxi.dev/arxi/internal/benchdata"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
)

// BenchmarkDecode decodes benchdata's ~1 KiB events from their canonical
// lines: unsealed as arxi-seal reads them, sealed envelopes as arxi-append
// and arxi-verify do.
func BenchmarkDecode(b *testing.B) {
	const n = 1000
	in := benchdata.Bytes(n)
	var unsealed []string
	var c canonical.Canonicalizer
	for line := range bytes.Lines(in) {
		out, err := c.Append(nil, bytes.TrimSuffix(line, []byte("\n")))
		if err != nil {
			b.Fatal(err)
		}
		unsealed = append(unsealed, string(out))
	}
	s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench")})
	if err != nil {
		b.Fatal(err)
	}
	var sealed bytes.Buffer
	if _, err := sealing.Stream(context.Background(), s, bytes.NewReader(in), &sealed, sealing.StreamOptions{}); err != nil {
		b.Fatal(err)
	}
	var envelopes []string
	for line := range bytes.Lines(sealed.Bytes()) {
		if bytes.Contains(line, []byte(`"record":"envelope"`)) {
			envelopes = append(envelopes, string(bytes.TrimSuffix(line, []byte("\n"))))
		}
	}
	for _, bc := range []struct {
		name  string
		lines []string
	}{{"unsealed", unsealed}, {"envelope", envelopes}} {
		b.Run(bc.name, func(b *testing.B) {
			size := 0
			for _, l := range bc.lines {
				size += len(l)
			}
			b.SetBytes(int64(size / len(bc.lines)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := evidence.Decode(bc.lines[i%len(bc.lines)], evidence.DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
