package bundle_test

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sync"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/scalar"
)

const benchEnvelopes = 20_000

// benchStream is benchEnvelopes of the ~1 KiB events of events.Bench, sealed in
// segments of 5,000.
var benchStream = sync.OnceValue(func() []byte { return bundletest.BenchBytes(benchEnvelopes, 5000) })

func report(b *testing.B, ms0 *runtime.MemStats) {
	b.StopTimer()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	n := float64(b.N) * benchEnvelopes
	b.ReportMetric(n/b.Elapsed().Seconds(), "envelopes/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/envelope")
}

// BenchmarkBuild builds bundles from a spooled stream (both passes: plan
// and write), every envelope disclosed and one in eight (a trace).
func BenchmarkBuild(b *testing.B) {
	sp, err := bundle.Spool(context.Background(), bytes.NewReader(benchStream()), bundle.SpoolConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	for _, tc := range []struct {
		name string
		sel  bundle.Selector
	}{
		{"all", bundle.Selector{All: true}},
		{"trace", bundle.Selector{EventTypes: []scalar.Token{scalar.MustToken("tool.call")}, SessionIDs: []scalar.Label{scalar.MustLabel("session-0003")}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if err := tc.sel.Normalize(); err != nil {
				b.Fatal(err)
			}
			var ms0 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			for range b.N { // not b.Loop: its single run ignores -cpu (golang/go#49980)
				if _, err := bundle.Build(context.Background(), sp, tc.sel, io.Discard, bundle.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			report(b, &ms0)
		})
	}
}

// BenchmarkFromStream is arxi-bundle --from-stream: spool a sealed stream
// (checking every hash) and build the whole-stream bundle.
func BenchmarkFromStream(b *testing.B) {
	data := benchStream()
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for range b.N { // not b.Loop: its single run ignores -cpu (golang/go#49980)
		sp, err := bundle.Spool(context.Background(), bytes.NewReader(data), bundle.SpoolConfig{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.Build(context.Background(), sp, bundle.Selector{Stream: true}, io.Discard, bundle.Options{}); err != nil {
			b.Fatal(err)
		}
		sp.Close()
	}
	report(b, &ms0)
}
