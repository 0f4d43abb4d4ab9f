package storesource_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

func fromStore(t testing.TB, s *store.Store, sel bundle.Selector) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	_, err := fromStoreTo(s, sel, &out)
	return out.Bytes(), err
}

// TestSameAsStream: a store and the stream it was filled from give the
// same bundle bytes for every selector.
func TestSameAsStream(t *testing.T) {
	stream := bundletest.Stream(bundletest.Options{Envelopes: 40, PerSegment: 9, AttachEvery: 4, LeaveOpen: true})
	s := storetest.Fill(t, memory.New(), stream)
	defer s.Close()
	for name, sel := range map[string]bundle.Selector{
		"all":        {All: true},
		"trace":      {TraceIDs: []scalar.Label{scalar.MustLabel("trace-2")}},
		"union":      {SessionIDs: []scalar.Label{scalar.MustLabel("sess-1")}, EventTypes: []scalar.Token{scalar.MustToken("model.reply")}},
		"event type": {EventTypes: []scalar.Token{scalar.MustToken("session.start")}},
		"time range": {Since: at(t, 12), Until: at(t, 20)},
	} {
		t.Run(name, func(t *testing.T) { sameAsStream(t, s, stream, sel) })
	}
}

// TestSameAsStreamBatches is TestSameAsStream over segments of several
// batches of rows, signed and with blobs, from each backend: the rows of
// a segment are fetched ahead while the bundle reads blobs from the same
// snapshot.
func TestSameAsStreamBatches(t *testing.T) {
	stream := bundletest.Stream(bundletest.Options{Envelopes: 1000, PerSegment: 400, AttachEvery: 3, LeaveOpen: true,
		Keys: []*signing.Key{storetest.Key(1)}})
	backends := map[string]store.Backend{"memory": memory.New()}
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "arxi.db")})
	if err != nil {
		t.Fatal(err)
	}
	backends["sqlite"] = db
	for name, b := range backends {
		s := storetest.Fill(t, b, stream)
		defer s.Close()
		for what, sel := range map[string]bundle.Selector{
			"all":   {All: true},
			"trace": {TraceIDs: []scalar.Label{scalar.MustLabel("trace-2")}},
		} {
			t.Run(name+"/"+what, func(t *testing.T) { sameAsStream(t, s, stream, sel) })
		}
	}
}

// sameAsStream checks that the bundle s builds for sel is the bundle the
// sealed stream builds.
func sameAsStream(t *testing.T, s *store.Store, stream []byte, sel bundle.Selector) {
	t.Helper()
	if err := sel.Normalize(); err != nil {
		t.Fatal(err)
	}
	got, err := fromStore(t, s, sel)
	if err != nil {
		t.Fatal(err)
	}
	if want := fixture.MustBuild(t, stream, sel); !bytes.Equal(got, want) {
		t.Errorf("bundle from the store differs from the bundle from the stream (%d and %d bytes)", len(got), len(want))
	}
}

func at(t *testing.T, sec int) *scalar.Timestamp {
	t.Helper()
	ts, err := scalar.TimestampOf(bundletest.Base.Add(timeSec(sec)))
	if err != nil {
		t.Fatal(err)
	}
	return &ts
}

func timeSec(n int) time.Duration { return time.Duration(n) * time.Second }

func TestErrors(t *testing.T) {
	s := storetest.Fill(t, memory.New(), bundletest.Stream(bundletest.Options{Envelopes: 5}))
	defer s.Close()
	for _, tc := range []struct {
		sel  bundle.Selector
		code errcode.Code
	}{
		{bundle.Selector{TraceIDs: []scalar.Label{scalar.MustLabel("none")}}, errcode.BundleEmpty},
		{bundle.Selector{Segments: []scalar.UUID{{1, 2, 3, 4, 5, 6, 0x70, 0, 0x80}}}, errcode.SegmentNotFound},
	} {
		if _, err := fromStore(t, s, tc.sel); errcode.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.sel.String(), err, tc.code)
		}
	}
}

const benchEnvelopes = 20_000

var benchStream = sync.OnceValue(func() []byte { return bundletest.BenchBytes(benchEnvelopes, 5000) })

// benchStore is a SQLite store of benchStream.
func benchStore(b *testing.B) *store.Store {
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db"), Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	return storetest.Fill(b, db, benchStream())
}

// BenchmarkBuild builds the whole-store bundle from a SQLite store of
// the ~1 KiB events of events.Bench (segments of 5,000), as arxi-bundle --store
// --all does after opening the store.
func BenchmarkBuild(b *testing.B) {
	s := benchStore(b)
	defer s.Close()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for range b.N { // not b.Loop: its single run ignores -cpu (golang/go#49980)
		if _, err := fromStoreTo(s, bundle.Selector{All: true}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	n := float64(b.N) * benchEnvelopes
	b.ReportMetric(n/b.Elapsed().Seconds(), "envelopes/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/envelope")
}

// BenchmarkSelection measures what deciding selection from the verified
// rows costs (SPEC §8) against the whole-store bundle in the same run:
// the bundle of one session (64 envelopes in one of 4 segments of 5,000),
// which reads every segment, and that session's query page by the index
// and by scan.
func BenchmarkSelection(b *testing.B) {
	s := benchStore(b)
	defer s.Close()
	session := scalar.MustLabel("session-0100")
	b.Run("bundle-all", func(b *testing.B) {
		for range b.N {
			if _, err := fromStoreTo(s, bundle.Selector{All: true}, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bundle-session", func(b *testing.B) {
		for range b.N {
			m, err := fromStoreTo(s, bundle.Selector{SessionIDs: []scalar.Label{session}}, io.Discard)
			if err != nil || len(m.Segments) != 1 || m.Segments[0].Disclosed != 64 {
				b.Fatalf("%v %+v", err, m)
			}
		}
	})
	for _, scan := range []bool{false, true} {
		b.Run(map[bool]string{false: "query-index", true: "query-scan"}[scan], func(b *testing.B) {
			for range b.N {
				sn, err := s.Snapshot(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				page := sn.Query
				if scan {
					page = sn.Scan
				}
				p, err := page(context.Background(), store.Filter{SessionID: session}, "", 1000)
				sn.Close()
				if err != nil || len(p.Items) != 64 {
					b.Fatalf("%v", err)
				}
			}
		})
	}
}

// fromStoreTo builds a bundle of sel from a snapshot of s into w.
func fromStoreTo(s *store.Store, sel bundle.Selector, w io.Writer) (*bundle.Manifest, error) {
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	return bundle.Build(context.Background(), storesource.New(sn), sel, w, bundle.Options{})
}

// TestProgressTotal: from a store, Build knows how many records it will
// read before it reads them, and the progress it reports adds up to it.
func TestProgressTotal(t *testing.T) {
	stream := bundletest.Stream(bundletest.Options{Envelopes: 3000, PerSegment: 1000})
	s := storetest.Fill(t, memory.New(), stream)
	defer s.Close()
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var total, read int64
	opts := bundle.Options{ProgressTotal: func(n int64) { total = n }, Progress: func(n int) { read += int64(n) }}
	if _, err := bundle.Build(context.Background(), storesource.New(sn), bundle.Selector{All: true}, io.Discard, opts); err != nil {
		t.Fatal(err)
	}
	if total != 3000+3*2 {
		t.Errorf("total = %d, want 3006: 3000 envelopes, 3 geneses and 3 seals", total)
	}
	if read > total || read < total-1024 {
		t.Errorf("progress reported %d of %d", read, total)
	}
}
