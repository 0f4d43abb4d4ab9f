package openclaw_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/openclaw"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/stream"
	"arxi.dev/arxi/pkg/verify"
)

// TestEndToEnd: arxi-openclaw | arxi-seal --sign-key … | arxi-bundle
// --from-stream | arxi-verify --trust-root … is valid, in process, for a
// frame capture (with its unpaired envelopes) and a transcript, and also
// under --sequence anomaly.
func TestEndToEnd(t *testing.T) {
	key := bundletest.Key(7)
	root := bundletest.ParseTrustRoot("any_trusted_key", key)
	for _, tc := range []struct {
		file string
		cfg  openclaw.Config
	}{
		{"capture.frames.ndjson", openclaw.Config{}},
		{"capture.payloads.ndjson", openclaw.Config{Format: openclaw.Payloads, Sequence: openclaw.Anomaly}},
		{"v3-session.jsonl", openclaw.Config{Format: openclaw.Transcript}},
		{"pi-mono-v1-before-compaction.lines1_629-642.jsonl", openclaw.Config{Format: openclaw.Transcript}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ctx := context.Background()
			in := readFile(t, tc.file)
			tc.cfg.TempDir = t.TempDir()
			c, err := openclaw.Read(ctx, bytes.NewReader(in), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var unsealed bytes.Buffer
			w := stream.NewWriter(&unsealed)
			st, err := c.Map(ctx, w.Write)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("oc-recorder"), Signers: []sealing.Signer{key}})
			if err != nil {
				t.Fatal(err)
			}
			var sealed bytes.Buffer
			if _, err := sealing.Stream(ctx, s, &unsealed, &sealed, sealing.StreamOptions{SealAtEnd: true}); err != nil {
				t.Fatal(err)
			}
			b := fixture.MustBuild(t, sealed.Bytes(), bundle.Selector{Stream: true})
			v, err := verify.Bundle(ctx, bytes.NewReader(b), verify.Config{TrustRoot: root})
			if err != nil {
				t.Fatal(err)
			}
			if !v.Valid() || len(v.Warnings) != 0 {
				t.Fatalf("verdict: %s", v.AppendJCS(nil))
			}
			if n := countEnvelopes(t, b); n != st.Envelopes {
				t.Errorf("bundle holds %d envelopes, the mapping wrote %d", n, st.Envelopes)
			}
		})
	}
}

func countEnvelopes(t *testing.T, b []byte) int {
	r := stream.NewReader(bytes.NewReader(b), stream.Sealed, evidence.Limits{})
	if _, err := r.NextLine(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if _, ok := rec.(*evidence.Envelope); ok {
			n++
		}
	}
	return n
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "openclaw", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
