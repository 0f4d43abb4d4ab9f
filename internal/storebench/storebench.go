// Package storebench is the store benchmarks' workload, shared by every
// backend so that their figures compare: 1 KiB envelopes whose labels
// come in runs (events.Store), appended in batches, and the
// 1,000,000-envelope store the query and bundle benchmarks read.
package storebench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"testing"
	"time"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
	_ "modernc.org/sqlite" // the "sqlite" driver of InsertPlain
)

// Seal seals events into one segment per max envelopes (0: one segment),
// sealed at the end.
func Seal(tb testing.TB, events []byte, max uint64) []byte {
	s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench"), MaxEnvelopes: max})
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := sealing.Stream(context.Background(), s, bytes.NewReader(events), &out, sealing.StreamOptions{SealAtEnd: true}); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// EnvelopeLines returns the envelope lines of a sealed stream, without
// their newlines: what a plain table of the same bytes holds.
func EnvelopeLines(stream []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.SplitAfter(stream, []byte("\n")) {
		if bytes.Contains(l, []byte(`"record":"envelope"`)) {
			out = append(out, bytes.TrimSuffix(l, []byte("\n")))
		}
	}
	return out
}

// Append opens a store on b, appends stream in transactions of batch
// envelopes and closes it.
func Append(tb testing.TB, b store.Backend, stream []byte, batch int) {
	AppendHook(tb, b, stream, batch, nil)
}

// AppendHook is Append, calling before (when set) before the store is closed.
func AppendHook(tb testing.TB, b store.Backend, stream []byte, batch int, before func()) {
	ctx := context.Background()
	s, err := store.Open(ctx, b, store.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	a, err := s.Appender(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := store.AppendStream(ctx, a, bytes.NewReader(stream), store.AppendOptions{Batch: batch}); err != nil {
		tb.Fatal(err)
	}
	if before != nil {
		before()
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
}

// The big store: 1,000,000 envelopes in sealed segments of 100,000.
const (
	BigN       = 1_000_000
	BigSegment = 100_000
)

// IsBig reports whether s holds the whole big store.
func IsBig(s *store.Store) bool {
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		return false
	}
	defer sn.Close()
	g, err := sn.LastSegment(context.Background())
	return err == nil && g != nil && g.Sealed() && g.FirstPosition+g.Count-1 == BigN
}

// FillBig appends the big store to s (empty), 50,000 events at a time in
// transactions of 10,000, as arxi-seal --store | arxi-append would.
func FillBig(tb testing.TB, s *store.Store) {
	ctx := context.Background()
	start := time.Now()
	const chunk = 50_000
	for i := 0; i < BigN; i += chunk {
		h, err := s.Head(ctx, true)
		if err != nil {
			tb.Fatal(err)
		}
		st := sealing.Continue(h.Genesis, h.Chain, h.LastClaimedAt, h.Last)
		sl, _ := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench"), MaxEnvelopes: BigSegment, Start: st})
		var sealed bytes.Buffer
		if _, err := sealing.Stream(ctx, sl, bytes.NewReader(events.Store.Lines(i, i+chunk)), &sealed, sealing.StreamOptions{}); err != nil {
			tb.Fatal(err)
		}
		a, _ := s.Appender(ctx)
		if _, err := store.AppendStream(ctx, a, &sealed, store.AppendOptions{Batch: 10_000}); err != nil {
			tb.Fatal(err)
		}
		a.Close()
	}
	a, _ := s.Appender(ctx)
	if o := a.OpenSegment(); o != nil {
		tb.Fatalf("segment of %d envelopes left open", o.Count)
	}
	tb.Logf("built the %d-envelope store in %v", BigN, time.Since(start))
}

// QueryTrace benchmarks the first page of a trace on the big store, as
// arxi-query --trace-id does: open the store with open, snapshot, query,
// every row read back and verified. Each iteration asks ten times;
// ms/query is their mean.
//
//   - spread: ten different traces of the hundred whose 1000 envelopes
//     each are spread evenly over the store, a full page from 1000 places:
//     the worst case, as cold as the caches leave it;
//   - spread-warm: one such trace, asked once before timing;
//   - run: traces of consecutive events (45 envelopes each), as most
//     traces are.
//
// Each sub-benchmark also reports size, the store's bytes per envelope.
func QueryTrace(b *testing.B, open func() (*store.Store, error), size float64) {
	ctx := context.Background()
	query := func(b *testing.B, trace string, want int) {
		s, err := open()
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		sn, err := s.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer sn.Close()
		p, err := sn.Query(ctx, store.Filter{TraceID: scalar.MustLabel(trace)}, "", 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Items) != want || p.Next != "" {
			b.Fatalf("%s: page of %d, next %q", trace, len(p.Items), p.Next)
		}
	}
	const perIter = 10
	for _, bc := range []struct {
		name  string
		trace func(i int) string
		want  int
		warm  bool
	}{
		{"spread", func(i int) string { return fmt.Sprintf("long-%03d", (i*37)%100) }, 1000, false},
		{"spread-warm", func(int) string { return "long-042" }, 1000, true},
		{"run", func(i int) string { return fmt.Sprintf("trace-%07d", (i*7919)%(BigN/50)) }, 45, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.warm {
				query(b, bc.trace(0), bc.want)
			}
			i := 0
			b.ResetTimer()
			for range b.N {
				for range perIter {
					query(b, bc.trace(i), bc.want)
					i++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*perIter), "ms/query")
			b.ReportMetric(size, "bytes/envelope")
		})
	}
}

// BundleTrace benchmarks building the bundle of one trace of
// consecutive events from the big store, as arxi-bundle --store --trace-id
// does: the 45 envelopes disclosed, the rest of their 100,000-envelope
// segment elided, the whole segment read and its chain verified.
func BundleTrace(b *testing.B, open func() (*store.Store, error)) {
	ctx := context.Background()
	s, err := open()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n int64
	b.ResetTimer()
	for i := range b.N {
		sn, err := s.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sel := bundle.Selector{TraceIDs: []scalar.Label{scalar.MustLabel(fmt.Sprintf("trace-%07d", (i*7919+13)%(BigN/50)))}}
		cw := &countWriter{}
		m, err := bundle.Build(ctx, storesource.New(sn), sel, cw, bundle.Options{})
		sn.Close()
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Segments) != 1 {
			b.Fatalf("bundle of %d segments", len(m.Segments))
		}
		n += cw.n
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/bundle")
	b.ReportMetric(float64(n)/float64(b.N)/(1<<20), "MiB/bundle")
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// InsertPlain is the baseline of the append benchmarks: the lines next
// returns (until it returns false) inserted into a new plain one-table
// SQLite database at path, WAL and synchronous=FULL, through database/sql,
// batch lines per transaction; what modernc SQLite does with these bytes
// and nothing else. It returns the time from opening the database to
// closing it.
func InsertPlain(tb testing.TB, path string, next func() ([]byte, bool), batch int) time.Duration {
	tb.Helper()
	start := time.Now()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, line BLOB NOT NULL)"); err != nil {
		tb.Fatal(err)
	}
	stmt, err := db.Prepare("INSERT INTO rows (id, line) VALUES (?, ?)")
	if err != nil {
		tb.Fatal(err)
	}
	for id, more := 1, true; more; {
		tx, err := db.Begin()
		if err != nil {
			tb.Fatal(err)
		}
		st := tx.Stmt(stmt)
		for range batch {
			var line []byte
			if line, more = next(); !more {
				break
			}
			if _, err := st.Exec(id, line); err != nil {
				tb.Fatal(err)
			}
			id++
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
	stmt.Close()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// Each returns the lines one at a time, for InsertPlain.
func Each(lines [][]byte) func() ([]byte, bool) {
	i := 0
	return func() ([]byte, bool) {
		if i == len(lines) {
			return nil, false
		}
		i++
		return lines[i-1], true
	}
}

// Rows returns the rows of a sealed stream of one segment as a backend
// stores them, for benchmarks of a backend's own writes: the segment row
// (Order 1, empty) and each envelope's row at the position of its
// sequence. The rows share the decoded records' memory.
func Rows(tb testing.TB, stream []byte) (*store.SegmentRow, []store.EnvelopeRow) {
	tb.Helper()
	var seg *store.SegmentRow
	var rows []store.EnvelopeRow
	for _, rec := range storetest.Records(tb, stream) {
		switch r := rec.(type) {
		case *evidence.Genesis:
			seg = &store.SegmentRow{Order: 1, ID: r.SegmentID, FirstPosition: 1, Genesis: r.AppendJCS(nil), GenesisHash: r.GenesisHash, Head: r.GenesisHash}
		case *evidence.Envelope:
			var row store.EnvelopeRow
			row.Set(r, r.Sequence, 1, nil)
			rows = append(rows, row)
		}
	}
	return seg, rows
}
