package bundle_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/zstdio"
)

// TestDemoCompression: the bundle of the demo events (sealed as make demo
// seals them, bundled whole) compresses to at most 35% of its size.
func TestDemoCompression(t *testing.T) {
	in, err := os.ReadFile("../../testdata/demo/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("demo-recorder")})
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	if _, err := sealing.Stream(context.Background(), s, bytes.NewReader(in), &sealed, sealing.StreamOptions{SealAtEnd: true}); err != nil {
		t.Fatal(err)
	}
	sp, err := bundle.Spool(context.Background(), &sealed, bundle.SpoolConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	var plain, z bytes.Buffer
	zw, err := zstdio.NewWriter(&z)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Build(context.Background(), sp, bundle.Selector{Stream: true}, &plain, bundle.Options{}); err != nil {
		t.Fatal(err)
	}
	zw.Write(plain.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ratio := float64(z.Len()) / float64(plain.Len())
	t.Logf("%s: demo bundle %d bytes, zstd level %d %d bytes: %.1f%%", zstdio.Codec, plain.Len(), zstdio.Level, z.Len(), 100*ratio)
	if ratio > 0.35 {
		t.Errorf("zstd bundle is %.1f%% of the plain one, want at most 35%%", 100*ratio)
	}
}
