package verify_test

import (
	"bytes"
	"context"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/internal/fuzzinput"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/verify"
)

// FuzzBundle feeds the verifier bundles and streams it never saw: edits
// of a signed stream, of a bundle of it and of that bundle compressed
// (fuzzinput.Edit), and arbitrary bytes. It never panics, an error is a
// known code and comes without a verdict, and a verdict is one canonical
// JSON object that is the same on a second run.
func FuzzBundle(f *testing.F) {
	stream := bundletest.Stream(bundletest.Options{Envelopes: 4, PerSegment: 2, AttachEvery: 2, Keys: keys(1)})
	b := fixture.MustBuild(f, stream, bundle.Selector{EventTypes: baseSelector().EventTypes})
	bases := [][]byte{stream, b, compress(f, b)}
	for i := range bases {
		f.Add([]byte{}, uint8(i), uint16(0), uint8(0))
	}
	f.Add([]byte(`"elided"`), uint8(1), uint16(600), uint8(10))
	f.Add([]byte("{\"record\":\"manifest\"}\n"), uint8(fuzzinput.Raw), uint16(0), uint8(0))
	root := bundletest.ParseTrustRoot("any_trusted_key", keys(1)...)
	cfg := verify.Config{TrustRoot: root, Limits: bundle.Limits{Segments: 16, Envelopes: 64, EnvelopesPerSegment: 64, Attachments: 16}}
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		in := fuzzinput.Edit(bases, base, at, cut, patch)
		v, err := verify.Bundle(context.Background(), bytes.NewReader(in), cfg)
		if err != nil {
			if v != nil {
				t.Fatal("a verdict with an error")
			}
			if c := errcode.CodeOf(err); !errcode.Known(c) || c == errcode.Internal {
				t.Fatalf("error %v has code %q", err, c)
			}
			return
		}
		out := v.AppendJCS(nil)
		if !canonical.IsCanonical(out) {
			t.Fatalf("verdict is not canonical JSON: %s", out)
		}
		again, err := verify.Bundle(context.Background(), bytes.NewReader(in), cfg)
		if err != nil || !bytes.Equal(again.AppendJCS(nil), out) {
			t.Fatalf("second run differs: %v", err)
		}
	})
}
