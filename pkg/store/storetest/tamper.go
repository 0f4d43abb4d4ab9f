package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
)

// The rule of SPEC §8 for indexes edited behind the store's back: every
// read either fails with store.corrupt or returns exactly what the
// untampered store returns, and Check (arxi-append doctor) reports the
// edit. The one exception is what an index cannot guarantee by design:
// Query, asking the index, may miss matches, but never returns a row that
// does not match.

// TamperStream is the stream a tamper test appends, with TamperBatch
// envelopes per transaction: 40 events (see Shape), in segments of 15
// (positions 1-15, 16-30, 31-40, the last open), in batches of 10.
func TamperStream(t testing.TB) []byte {
	return Seal(t, sealing.Config{MaxEnvelopes: 15}, Events(0, 40), false)
}

// TamperBatch is the transaction size of a tamper test's appends.
const TamperBatch = 10

// FillTamper appends TamperStream to the new backend b in transactions of
// TamperBatch envelopes, as arxi-append --batch 10 would.
func FillTamper(t testing.TB, b store.Backend) {
	t.Helper()
	s, err := store.Open(ctx, b, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Appender(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := store.AppendStream(ctx, a, bytes.NewReader(TamperStream(t)), store.AppendOptions{Batch: TamperBatch}); err != nil {
		t.Fatal(err)
	}
}

// Reads is what every read path of a store returns, keyed by the path.
type Reads struct {
	out  map[string]string
	keys []string
}

// readPath is one read of a store: its result as text, or its error.
type readPath struct {
	name  string
	index bool // Query: may miss matches (see above)
	read  func(sn *store.Snapshot) (string, error)
}

// Read runs every read path on a snapshot of s: Query and Scan (all
// pages, 4 at a time) and WriteStream for label, time and segment filters,
// bundles for label, time, segment and union selectors, every segment's
// records, and Check.
func Read(t *testing.T, s *store.Store) *Reads {
	t.Helper()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	r := &Reads{out: map[string]string{}}
	for _, p := range readPaths(t, sn) {
		out, err := p.read(sn)
		if err != nil {
			e, ok := errcode.As(err)
			if !ok {
				t.Fatalf("%s: %v is not an *errcode.Error", p.name, err)
			}
			out = "error " + string(e.Code)
		}
		r.out[p.name] = out
		r.keys = append(r.keys, p.name)
	}
	return r
}

// CheckTampered holds the reads of a tampered store to the rule above
// against want, the reads of the same store untampered.
func CheckTampered(t *testing.T, want, got *Reads) {
	t.Helper()
	if got.out["check"] != "error "+string(errcode.StoreCorrupt) {
		t.Errorf("Check = %s, want store.corrupt", got.out["check"])
	}
	corrupt := 0
	for _, k := range want.keys {
		w, g := want.out[k], got.out[k]
		switch {
		case k == "check":
		case g == w:
		case g == "error "+string(errcode.StoreCorrupt):
			corrupt++
		case strings.HasPrefix(k, "query ") && subsequence(lines(g), lines(w)):
		default:
			t.Errorf("%s:\n got %.300s\nwant %.300s", k, g, w)
		}
	}
	t.Logf("%d of %d reads fail with store.corrupt", corrupt, len(want.keys)-1)
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// subsequence reports whether every line of sub is in full, in order.
func subsequence(sub, full []string) bool {
	i := 0
	for _, l := range sub {
		for i < len(full) && full[i] != l {
			i++
		}
		if i == len(full) {
			return false
		}
		i++
	}
	return true
}

func readPaths(t *testing.T, sn *store.Snapshot) []readPath {
	segs, err := sn.Segments(ctx)
	if err != nil || len(segs) < 2 {
		t.Fatalf("segments: %d, %v", len(segs), err)
	}
	at := func(sec int) *scalar.Timestamp {
		ts, err := scalar.TimestampOf(Base.Add(time.Duration(sec) * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return &ts
	}
	l, tok := scalar.MustLabel, scalar.MustToken
	filters := []store.Filter{
		{TraceID: l("trace-1")}, {TraceID: l("trace-2")}, {SessionID: l("sess-1")}, {SessionID: l("sess-4")},
		{EventTypes: []scalar.Token{tok("tool.call")}}, {ActorID: l("agent:1")}, {EnvironmentID: l("env-1")},
		{AdapterID: tok("adapter-0")}, {SessionID: l("sess-1"), ActorID: l("agent:1")},
		{Since: at(14), Until: at(26)}, {Since: at(16)}, {Until: at(19)},
		{SegmentID: segs[1].ID(), AfterSequence: 3, SessionID: l("sess-2")}, {SegmentID: segs[1].ID()},
	}
	var paths []readPath
	for i, f := range filters {
		name := fmt.Sprintf(" of filter %d", i)
		paths = append(paths,
			readPath{"query" + name, true, func(sn *store.Snapshot) (string, error) { return pages(sn.Query, f) }},
			readPath{"scan" + name, false, func(sn *store.Snapshot) (string, error) { return pages(sn.Scan, f) }},
			readPath{"stream" + name, false, func(sn *store.Snapshot) (string, error) {
				var b bytes.Buffer
				err := sn.WriteStream(ctx, &b, f)
				return b.String(), err
			}})
	}
	sels := []bundle.Selector{
		{All: true}, {SessionIDs: []scalar.Label{l("sess-1")}}, {SessionIDs: []scalar.Label{l("sess-4")}},
		{TraceIDs: []scalar.Label{l("trace-2")}}, {EventTypes: []scalar.Token{tok("tool.call")}},
		{Since: at(14), Until: at(26)}, {Segments: []scalar.UUID{segs[1].ID()}},
		{Segments: []scalar.UUID{segs[0].ID()}, TraceIDs: []scalar.Label{l("trace-1")}, Until: at(5)},
	}
	for _, sel := range sels {
		paths = append(paths, readPath{"bundle " + sel.String(), false, func(sn *store.Snapshot) (string, error) {
			var b bytes.Buffer
			_, err := bundle.Build(ctx, storesource.New(sn), sel, &b, bundle.Options{})
			return b.String(), err
		}})
	}
	for _, g := range segs {
		paths = append(paths, readPath{"records " + g.ID().String(), false, func(sn *store.Snapshot) (string, error) {
			var b strings.Builder
			seg, err := sn.Segment(ctx, g.ID())
			if err != nil {
				return "", err
			}
			err = sn.Records(ctx, seg, func(_ evidence.Record, line []byte) error {
				b.Write(line)
				b.WriteByte('\n')
				return nil
			})
			return b.String(), err
		}})
	}
	return append(paths, readPath{"check", false, func(sn *store.Snapshot) (string, error) {
		st, err := sn.Check(ctx, store.CheckOptions{})
		return fmt.Sprintf("%+v", st), err
	}})
}

// pages reads every page of f, 4 at a time, as the envelopes' lines.
func pages(page func(context.Context, store.Filter, string, int) (*store.Page, error), f store.Filter) (string, error) {
	var out []string
	cursor := ""
	for range 100 {
		p, err := page(ctx, f, cursor, 4)
		if err != nil {
			return "", err
		}
		for _, it := range p.Items {
			out = append(out, string(it.Line))
		}
		if cursor = p.Next; cursor == "" {
			return strings.Join(out, "\n"), nil
		}
	}
	return "", fmt.Errorf("paging does not end")
}
