package verify_test

import (
	"bytes"
	"context"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/verify"
)

// FuzzBundle feeds arbitrary bytes to the verifier: it never panics, an
// error is a known code and comes without a verdict, and a verdict is one
// canonical JSON object that is the same on a second run.
func FuzzBundle(f *testing.F) {
	stream := bundletest.Stream(bundletest.Options{Envelopes: 5, PerSegment: 2, AttachEvery: 2, Keys: keys(1)})
	f.Add(stream)
	b := fixture.MustBuild(f, stream, bundle.Selector{EventTypes: baseSelector().EventTypes})
	f.Add(b)
	f.Add(compress(f, b))
	f.Add([]byte("{\"record\":\"manifest\"}\n"))
	root := bundletest.ParseTrustRoot("any_trusted_key", keys(1)...)
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := verify.Config{TrustRoot: root, Limits: bundle.Limits{Segments: 16, Envelopes: 64, EnvelopesPerSegment: 64, Attachments: 16}}
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
