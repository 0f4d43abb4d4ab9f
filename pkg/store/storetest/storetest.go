// Package storetest is the conformance suite of store backends (SPEC §8):
// every store.Backend passes Run. It drives the store through the
// store-agnostic layer (Appender, Snapshot, Head), so it checks the
// backend's contract — transactions, snapshots, uniqueness, query
// semantics — and the rules that layer enforces over it.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{New: …, Reopen: …, Corrupt: …})
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"github.com/google/go-cmp/cmp"
)

// Harness makes backends of one kind for the suite.
type Harness struct {
	// New returns a new, empty backend open for writing.
	New func(t *testing.T) store.Backend
	// Reopen closes b and returns the same store opened again, as a
	// restarted process would see it.
	Reopen func(t *testing.T, b store.Backend) store.Backend
	// Corrupt overwrites one column of one stored row behind the store's
	// back, as a disk fault or an attacker with write access would.
	Corrupt func(t *testing.T, b store.Backend, c Corruption)
}

// Corruption names a stored value to overwrite.
type Corruption struct {
	// Table is "envelopes" (Key: position uint64), "segments" (Key: order
	// int64), "attachments" (Key: hash scalar.Digest) or "key_epochs" (Key:
	// epoch int64).
	Table string
	Key   any
	// Column is a column name of the SQLite schema: envelopes payload,
	// content_hash, chain_hash, event_type, …; segments genesis, seal, head,
	// envelope_count; attachments data.
	Column string
	// Value is the new value: []byte, string or int64.
	Value any
}

// SQLKey returns the key column of the SQL table c.Table (as SQLite and
// PostgreSQL name it) and c.Key as a value for it.
func (c Corruption) SQLKey() (column string, key any) {
	switch c.Table {
	case "envelopes":
		return "position", int64(c.Key.(uint64))
	case "segments":
		return "seq", c.Key.(int64)
	case "key_epochs":
		return "epoch", c.Key.(int64)
	}
	h := c.Key.(scalar.Digest)
	return "hash", h[:]
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"AppendReadBack", testAppendReadBack},
		{"Batches", testBatches},
		{"ContinueOpenSegment", testContinue},
		{"Continuity", testContinuity},
		{"Duplicates", testDuplicates},
		{"DuplicatesLocated", testDuplicatesLocated},
		{"Attachments", testAttachments},
		{"SegmentLifecycle", testLifecycle},
		{"RollbackLeavesNoTrace", testRollback},
		{"QueryFilters", testQueryFilters},
		{"CursorPaging", testCursorPaging},
		{"Select", testSelect},
		{"StreamFilter", testStreamFilter},
		{"Meta", testMeta},
		{"Idempotency", testIdempotency},
		{"Head", testHead},
		{"Snapshots", testSnapshots},
		{"Corruption", testCorruption},
		{"Check", testCheck},
		{"Keys", testKeys},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

var ctx = context.Background()

func open(t *testing.T, b store.Backend, depth int) *store.Store {
	t.Helper()
	s, err := store.Open(ctx, b, store.Config{VerifyDepth: depth})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// appendStream appends b and returns the receipts.
func appendStream(t *testing.T, s *store.Store, b []byte, batch int) ([]store.Receipt, store.AppendStats, error) {
	t.Helper()
	a, err := s.Appender(ctx)
	if err != nil {
		t.Fatalf("appender: %v", err)
	}
	defer a.Close()
	var rs []store.Receipt
	st, err := store.AppendStream(ctx, a, bytes.NewReader(b), store.AppendOptions{Batch: batch,
		Receipts: func(r []store.Receipt) error { rs = append(rs, r...); return nil }})
	return rs, st, err
}

func mustAppend(t *testing.T, s *store.Store, b []byte) []store.Receipt {
	t.Helper()
	rs, _, err := appendStream(t, s, b, 0)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return rs
}

// dump returns the whole store as a sealed stream.
func dump(t *testing.T, s *store.Store) []byte {
	t.Helper()
	return StreamOf(t, s, store.Filter{})
}

// StreamOf returns what s.WriteStream writes for f, from one snapshot.
func StreamOf(t testing.TB, s *store.Store, f store.Filter) []byte {
	t.Helper()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, f); err != nil {
		t.Fatalf("WriteStream: %v", err)
	}
	return out.Bytes()
}

func wantCode(t *testing.T, what string, err error, code errcode.Code) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Errorf("%s: error = %v, want %s", what, err, code)
	}
}

// threeSegments is a stream of 20 events in segments of 8, the last open.
func threeSegments(t *testing.T) []byte {
	return Seal(t, sealing.Config{MaxEnvelopes: 8}, Events(0, 20), false)
}

func testAppendReadBack(t *testing.T, h Harness) {
	b := h.New(t)
	s := open(t, b, 0)
	in := threeSegments(t)
	rs := mustAppend(t, s, in)
	envs := Envelopes(t, in)
	if len(rs) != len(envs) {
		t.Fatalf("%d receipts for %d envelopes", len(rs), len(envs))
	}
	for i, r := range rs {
		e := envs[i]
		want := store.Receipt{SegmentID: e.SegmentID, Sequence: e.Sequence, EnvelopeID: e.EnvelopeID, ChainHash: e.ChainHash}
		if r != want {
			t.Fatalf("receipt %d = %+v, want %+v", i, r, want)
		}
	}
	if got := string(rs[0].AppendJCS(nil)); !strings.HasPrefix(got, `{"chain_hash":"sha256:`) || !strings.Contains(got, `"record":"receipt"`) {
		t.Errorf("receipt line = %s", got)
	}
	if got := dump(t, s); !bytes.Equal(got, in) {
		t.Fatalf("read back differs from the appended stream:\n got %d bytes\nwant %d bytes", len(got), len(in))
	}
	b = h.Reopen(t, b)
	s = open(t, b, 0)
	if got := dump(t, s); !bytes.Equal(got, in) {
		t.Fatal("read back after reopening differs from the appended stream")
	}
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	segs, err := sn.Segments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var shape []string
	for _, g := range segs {
		shape = append(shape, fmt.Sprintf("%d:%d:%v", g.Order, g.Count, g.Sealed()))
	}
	if got, want := strings.Join(shape, " "), "1:8:true 2:8:true 3:4:false"; got != want {
		t.Errorf("segments = %s, want %s", got, want)
	}
	b.Close()
}

func testBatches(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	in := threeSegments(t)
	a, _ := s.Appender(ctx)
	var sizes []int
	st, err := store.AppendStream(ctx, a, bytes.NewReader(in), store.AppendOptions{Batch: 6,
		Receipts: func(r []store.Receipt) error { sizes = append(sizes, len(r)); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{6, 6, 6, 2}) {
		t.Errorf("batch sizes = %v, want [6 6 6 2]", sizes)
	}
	if st.Envelopes != 20 || st.Line != int64(len(Lines(in))) || st.Last == nil || st.Last.Sequence != 4 {
		t.Errorf("stats = %+v", st)
	}
}

// continueFrom seals more events from the store's state, as arxi-seal
// --store does.
func continueFrom(t testing.TB, s *store.Store, open bool, cfg sealing.Config, input string, sealAtEnd bool) []byte {
	t.Helper()
	h, err := s.Head(ctx, open)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	cfg.Start = sealing.Continue(h.Genesis, h.Chain, h.LastClaimedAt, h.Last)
	return Seal(t, cfg, input, sealAtEnd)
}

func testContinue(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	first := threeSegments(t)
	mustAppend(t, s, first)
	more := continueFrom(t, s, false, sealing.Config{MaxEnvelopes: 8}, Events(20, 30), true)
	if !bytes.HasPrefix(more, []byte(Lines(first)[indexOfLastGenesis(first)])) {
		t.Fatalf("continuation does not start with the open segment's genesis:\n%s", Lines(more)[0])
	}
	rs := mustAppend(t, s, more)
	if len(rs) != 10 || rs[0].Sequence != 5 {
		t.Fatalf("continuation receipts: %d, first sequence %d", len(rs), rs[0].Sequence)
	}
	all := dump(t, s)
	CheckStream(t, all)
	if got, want := len(Envelopes(t, all)), 30; got != want {
		t.Fatalf("store holds %d envelopes, want %d", got, want)
	}
	// Appending the continuation again: the announced genesis is accepted,
	// the first envelope is not the next one. The segment it continued is
	// sealed by now, so that is what the store says.
	_, _, err := appendStream(t, s, more, 0)
	wantCode(t, "continuation appended twice", err, errcode.SegmentSealed)

	// Without an open segment the source fails unless asked to open one,
	// which links to the last sealed head.
	_, err = s.Head(ctx, false)
	wantCode(t, "head without an open segment", err, errcode.SegmentNoneOpen)
	next := continueFrom(t, s, true, sealing.Config{}, Events(30, 33), false)
	mustAppend(t, s, next)
	CheckStream(t, dump(t, s))
}

func indexOfLastGenesis(b []byte) int {
	idx := 0
	for i, l := range Lines(b) {
		if strings.Contains(l, `"record":"genesis"`) {
			idx = i
		}
	}
	return idx
}

// edit re-encodes the record on line i of a stream after changing it, so
// the line stays canonical and only the change is wrong.
func edit(t *testing.T, b []byte, i int, change func(evidence.Record)) []byte {
	t.Helper()
	lines := Lines(b)
	recs := Records(t, []byte(lines[i]))
	change(recs[0])
	lines[i] = string(recs[0].AppendJCS(nil)) + "\n"
	return []byte(strings.Join(lines, ""))
}

func lineOf(b []byte, kind string, n int) int {
	for i, l := range Lines(b) {
		if strings.Contains(l, `"record":"`+kind+`"`) {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

func testContinuity(t *testing.T, h Harness) {
	in := Seal(t, sealing.Config{MaxEnvelopes: 5}, Events(0, 8), true) // two sealed segments
	lines := Lines(in)
	env := func(n int) int { return lineOf(in, "envelope", n) }
	for _, tc := range []struct {
		name  string
		input []byte
		code  errcode.Code
	}{
		{"sequence gap", []byte(strings.Join(slices.Delete(slices.Clone(lines), env(2), env(2)+1), "")), errcode.ChainDiscontinuity},
		{"content tampered", edit(t, in, env(1), func(r evidence.Record) { r.(*evidence.Envelope).Payload = `{"i":99}` }), errcode.ChainHashMismatch},
		{"chain hash tampered", edit(t, in, env(1), func(r evidence.Record) { r.(*evidence.Envelope).ChainHash[0] ^= 1 }), errcode.ChainHashMismatch},
		{"envelope of another segment", edit(t, in, env(1), func(r evidence.Record) { r.(*evidence.Envelope).SegmentID[15] ^= 1 }), errcode.ChainDiscontinuity},
		{"genesis hash tampered", edit(t, in, 0, func(r evidence.Record) { r.(*evidence.Genesis).GenesisHash[0] ^= 1 }), errcode.ChainHashMismatch},
		{"seal count", edit(t, in, lineOf(in, "seal", 0), func(r evidence.Record) { r.(*evidence.Seal).EnvelopeCount++ }), errcode.ChainHashMismatch},
		{"seal merkle root", edit(t, in, lineOf(in, "seal", 0), func(r evidence.Record) { r.(*evidence.Seal).MerkleRoot[0] ^= 1 }), errcode.ChainHashMismatch},
		{"seal date", edit(t, in, lineOf(in, "seal", 0), func(r evidence.Record) {
			s := r.(*evidence.Seal)
			s.SealedAt = s.SealedAt.Add(time.Second)
		}), errcode.ChainHashMismatch},
		{"successor not linked", edit(t, in, lineOf(in, "genesis", 1), func(r evidence.Record) {
			g := r.(*evidence.Genesis)
			g.Predecessor.ChainHead[0] ^= 1
			g.GenesisHash = evidence.NewGenesis(g.SegmentID, g.RecorderID, g.CreatedAt, g.Predecessor).GenesisHash
		}), errcode.ChainDiscontinuity},
		{"second open segment", []byte(strings.Join(append(slices.Clone(lines[:env(2)]), lines[lineOf(in, "genesis", 1)]), "")), errcode.InputUnexpectedRecord},
		{"elided record", []byte(lines[0] + string(Records(t, []byte(lines[1]))[0].(*evidence.Envelope).Elided().AppendJCS(nil)) + "\n"), errcode.InputUnexpectedRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, h.New(t), 0)
			defer s.Close()
			_, _, err := appendStream(t, s, tc.input, 0)
			wantCode(t, "append", err, tc.code)
			if e, ok := errcode.As(err); !ok || e.Line == 0 {
				t.Errorf("error %v does not name its line", err)
			}
			if got := dump(t, s); len(got) != 0 {
				t.Errorf("the failed batch left %d bytes in the store", len(got))
			}
		})
	}

	// Against the store: a genesis while a segment is open, a genesis not
	// linked to the last sealed head, a stream that does not continue the
	// head.
	s := open(t, h.New(t), 0)
	defer s.Close()
	open5 := Seal(t, sealing.Config{}, Events(0, 5), false)
	mustAppend(t, s, open5)
	other := Seal(t, sealing.Config{RecorderID: scalar.MustLabel("other")}, Events(0, 2), false)
	_, _, err := appendStream(t, s, other, 0)
	wantCode(t, "genesis while a segment is open", err, errcode.SegmentAlreadyOpen)

	s2 := open(t, h.New(t), 0)
	defer s2.Close()
	mustAppend(t, s2, in)
	unlinked := Seal(t, sealing.Config{}, Events(50, 52), true)
	_, _, err = appendStream(t, s2, unlinked, 0)
	wantCode(t, "genesis not linked to the last sealed head", err, errcode.ChainDiscontinuity)
}

func testDuplicates(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	in := Seal(t, sealing.Config{}, Events(0, 4), true)
	mustAppend(t, s, in)
	_, _, err := appendStream(t, s, in, 0)
	wantCode(t, "the same sealed segment again", err, errcode.SegmentSealed)

	// A new segment, properly linked, reusing an envelope id.
	e := Envelopes(t, in)[1]
	ev := strings.Replace(Event(10), `{"event_type"`, `{"envelope_id":"`+e.EnvelopeID.String()+`","event_type"`, 1)
	dup := continueFrom(t, s, true, sealing.Config{}, Event(9)+ev, true)
	_, _, err = appendStream(t, s, dup, 0)
	wantCode(t, "duplicate envelope id", err, errcode.StoreDuplicate)

	// A genesis reusing a stored segment id, with other fields.
	g := Records(t, []byte(Lines(in)[0]))[0].(*evidence.Genesis)
	clash := evidence.NewGenesis(g.SegmentID, scalar.MustLabel("someone-else"), g.CreatedAt, &evidence.Link{SegmentID: g.SegmentID, ChainHead: Envelopes(t, in)[3].ChainHash})
	_, _, err = appendStream(t, s, append(clash.AppendJCS(nil), '\n'), 0)
	wantCode(t, "duplicate segment id", err, errcode.StoreDuplicate)
	if got := dump(t, s); !bytes.Equal(got, in) {
		t.Error("rejected duplicates changed the store")
	}
}

// testDuplicatesLocated: a backend may write envelope rows some at a time
// (store.RowError), but a duplicate envelope id deep in a batch is still
// located at its own envelope and input line, whether it repeats a stored
// envelope or one earlier in the same batch, and found by a later row's
// write or by the commit; nothing of the batch is stored.
func testDuplicatesLocated(t *testing.T, h Harness) {
	in := Seal(t, sealing.Config{}, Events(0, 4), true)
	stored := Envelopes(t, in)[2].EnvelopeID.String()
	withID := func(i int, id string) string {
		return strings.Replace(Event(i), `{"event_type"`, `{"envelope_id":"`+id+`","event_type"`, 1)
	}
	const early = "01a202b2-c500-7000-8000-00000000000e"
	for _, tc := range []struct {
		name  string
		n     int // events in the new segment
		dup   int // the 0-based index of the duplicate among them
		first int // the index of an earlier event with the same id; -1 for the stored one
		batch int
	}{
		{"stored id, found by a later row", 80, 36, -1, 0},
		{"stored id, found by the commit", 40, 37, -1, 0},
		{"id earlier in the batch", 80, 50, 9, 0},
		{"id of the batch before, committed", 60, 45, 9, 20},
		{"first envelope", 10, 0, -1, 0},
		{"last envelope", 70, 69, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, h.New(t), 0)
			defer s.Close()
			mustAppend(t, s, in)
			var input strings.Builder
			for i := range tc.n {
				switch {
				case i == tc.dup && tc.first < 0:
					input.WriteString(withID(100+i, stored))
				case i == tc.dup || i == tc.first:
					input.WriteString(withID(100+i, early))
				default:
					input.WriteString(Event(100 + i))
				}
			}
			before := dump(t, s)
			stream := continueFrom(t, s, true, sealing.Config{}, input.String(), true)
			_, st, err := appendStream(t, s, stream, tc.batch)
			wantCode(t, "duplicate envelope id", err, errcode.StoreDuplicate)
			e, _ := errcode.As(err)
			seq := uint64(tc.dup + 1)
			line := int64(0)
			for i, l := range Lines(stream) {
				if strings.Contains(l, `"record":"envelope"`) && strings.Contains(l, fmt.Sprintf(`"sequence":%d,`, seq)) {
					line = int64(i + 1)
				}
			}
			if e.Line != line || e.Sequence != seq || e.Segment == "" || e.Field != "envelope_id" {
				t.Errorf("error at line %d, sequence %d of segment %q, field %q, want line %d, sequence %d: %v",
					e.Line, e.Sequence, e.Segment, e.Field, line, seq, err)
			}
			if tc.batch > 0 {
				// The batches before the duplicate's are committed.
				if want := int64(tc.dup / tc.batch * tc.batch); st.Envelopes != want {
					t.Errorf("%d envelopes committed, want %d", st.Envelopes, want)
				}
				return
			}
			if st.Envelopes != 0 {
				t.Errorf("%d envelopes committed", st.Envelopes)
			}
			if got := dump(t, s); !bytes.Equal(got, before) {
				t.Error("the rejected batch changed the store")
			}
			unitDuplicate(t, s, Records(t, stream), seq, before)
		})
	}
}

// unitDuplicate: the records of a stream with a duplicate envelope id at
// sequence seq, added as one unit (Appender.AddUnit), fail with the index
// of that envelope's record, and nothing of them is committed.
func unitDuplicate(t *testing.T, s *store.Store, recs []evidence.Record, seq uint64, before []byte) {
	t.Helper()
	a, err := s.Appender(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	k, err := a.AddUnit(t.Context(), recs)
	wantCode(t, "duplicate envelope id in a unit", err, errcode.StoreDuplicate)
	if e, ok := recs[k].(*evidence.Envelope); !ok || e.Sequence != seq {
		t.Errorf("AddUnit names record %d (%T), want the envelope of sequence %d", k, recs[k], seq)
	}
	if e, _ := errcode.As(err); e == nil || e.Sequence != seq || e.Segment == "" {
		t.Errorf("unit error at %+v, want sequence %d", e, seq)
	}
	if rs, err := a.Commit(t.Context()); err != nil || len(rs) != 0 {
		t.Errorf("commit after the rejected unit: %d receipts, %v", len(rs), err)
	}
	if got := dump(t, s); !bytes.Equal(got, before) {
		t.Error("the rejected unit changed the store")
	}
}

func testAttachments(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	// Events 3, 10 and 17 carry blob 1, 0 and 1: the first stream holds
	// blob 1; the second, sealed separately, repeats it.
	first := Seal(t, sealing.Config{}, Events(0, 5), true)
	mustAppend(t, s, first)
	second := continueFrom(t, s, true, sealing.Config{}, Events(15, 19), true)
	if n := strings.Count(string(second), `"record":"attachment"`); n != 1 {
		t.Fatalf("second stream holds %d attachment records, want 1", n)
	}
	mustAppend(t, s, second)
	all := dump(t, s)
	CheckStream(t, all)
	if n := strings.Count(string(all), `"record":"attachment"`); n != 1 {
		t.Errorf("read back holds %d attachment records, want 1 (blobs are stored and written once)", n)
	}
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	ref := Envelopes(t, first)[3].Attachments[0]
	a, err := sn.Attachment(ctx, ref.Hash)
	if err != nil || a.Size() != ref.Size {
		t.Errorf("Attachment = %v, %v", a, err)
	}
	_, err = sn.Attachment(ctx, scalar.Digest{1})
	wantCode(t, "missing attachment", err, errcode.InputAttachmentMiss)

	// A reference to a blob neither stored nor in the stream; an attachment
	// record its envelope does not reference; a blob whose hash is wrong.
	s2 := open(t, h.New(t), 0)
	defer s2.Close()
	lines := Lines(first)
	att := lineOf(first, "attachment", 0)
	noBlob := []byte(strings.Join(slices.Delete(slices.Clone(lines), att, att+1), ""))
	_, _, err = appendStream(t, s2, noBlob, 0)
	wantCode(t, "missing blob", err, errcode.InputAttachmentMiss)
	orphan := slices.Clone(lines)
	orphan = slices.Insert(orphan, lineOf(first, "envelope", 1), lines[att])
	_, _, err = appendStream(t, s2, []byte(strings.Join(orphan, "")), 0)
	wantCode(t, "unreferenced attachment record", err, errcode.InputUnexpectedRecord)
	badHash := edit(t, first, att, func(r evidence.Record) { r.(*evidence.Attachment).Data[0] ^= 1 })
	_, _, err = appendStream(t, s2, badHash, 0)
	wantCode(t, "attachment hash", err, errcode.ChainHashMismatch)
}

func testLifecycle(t *testing.T, h Harness) {
	b := h.New(t)
	s := open(t, b, 0)
	a, _ := s.Appender(ctx)
	at, _ := scalar.ParseTimestamp("2026-11-23T08:00:00Z")
	_, err := a.SealNow(ctx, evidence.SealManual, at)
	wantCode(t, "seal with nothing open", err, errcode.SegmentNoneOpen)
	id, _ := scalar.NewRandomUUID7()
	g, err := a.OpenSegmentNow(ctx, Recorder, id, at)
	if err != nil {
		t.Fatal(err)
	}
	if g.Predecessor != nil || g.SegmentID != id || a.OpenSegment() == nil {
		t.Errorf("opened %+v", g)
	}
	id2, _ := scalar.NewRandomUUID7()
	_, err = a.OpenSegmentNow(ctx, Recorder, id2, at)
	wantCode(t, "second open", err, errcode.SegmentAlreadyOpen)
	seal, err := a.SealNow(ctx, evidence.SealManual, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if seal.EnvelopeCount != 0 || seal.HeadChainHash != g.GenesisHash || seal.Reason != evidence.SealManual {
		t.Errorf("sealed %+v", seal)
	}
	// A manual segment with envelopes: open, continue with arxi-seal, seal.
	id3, _ := scalar.NewRandomUUID7()
	g3, err := a.OpenSegmentNow(ctx, Recorder, id3, at.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if g3.Predecessor == nil || *g3.Predecessor != (evidence.Link{SegmentID: id, ChainHead: g.GenesisHash}) {
		t.Errorf("manual segment links to %+v", g3.Predecessor)
	}
	a.Close()
	mustAppend(t, s, continueFrom(t, s, false, sealing.Config{}, Events(0, 3), false))
	a, _ = s.Appender(ctx)
	if _, err := a.SealNow(ctx, evidence.SealManual, at.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	all := dump(t, s)
	CheckStream(t, all)
	if got := strings.Count(string(all), `"reason":"manual"`); got != 2 {
		t.Errorf("%d manual seals in the store, want 2", got)
	}
	s = open(t, h.Reopen(t, b), 0)
	defer s.Close()
	if got := dump(t, s); !bytes.Equal(got, all) {
		t.Error("reopened store differs")
	}
}

func testRollback(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	in := threeSegments(t)
	// Break envelope 8 (the last of segment 1): batches of 3 commit
	// envelopes 1–6; the batch of 7–9 is rolled back.
	bad := lineOf(in, "envelope", 7)
	broken := edit(t, in, bad, func(r evidence.Record) { r.(*evidence.Envelope).Payload = `"x"` })
	rs, st, err := appendStream(t, s, broken, 3)
	wantCode(t, "broken stream", err, errcode.ChainHashMismatch)
	if e, _ := errcode.As(err); e == nil || e.Line != int64(bad+1) {
		t.Errorf("error %v, want it at line %d", err, bad+1)
	}
	if len(rs) != 6 || st.Envelopes != 6 || st.Last == nil || st.Last.Sequence != 6 {
		t.Fatalf("committed %d receipts, stats %+v; want 6", len(rs), st)
	}
	// The store holds exactly the lines up to the committed line.
	want := strings.Join(Lines(in)[:st.Line], "")
	if got := dump(t, s); string(got) != want {
		t.Errorf("store after rollback:\n%s\nwant:\n%s", got, want)
	}
	// The rest of the stream, announced by the open segment's genesis,
	// completes the chain.
	rest := Lines(in)[0] + strings.Join(Lines(in)[st.Line:], "")
	if _, _, err := appendStream(t, s, []byte(rest), 3); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, s); !bytes.Equal(got, in) {
		t.Error("store after completing differs from the stream")
	}
}

// fixture is a store of 40 events in segments of 9 (the last open), and
// its envelopes in store order.
func fixture(t *testing.T, h Harness) (*store.Store, []*evidence.Envelope) {
	s := open(t, h.New(t), 0)
	in := Seal(t, sealing.Config{MaxEnvelopes: 9}, Events(0, 40), false)
	mustAppend(t, s, in)
	return s, Envelopes(t, in)
}

func ts(s string) *scalar.Timestamp {
	t, err := scalar.ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return &t
}

func ids(envs []*evidence.Envelope) []string {
	out := []string{}
	for _, e := range envs {
		out = append(out, fmt.Sprintf("%s/%d", e.SegmentID.String()[:8], e.Sequence))
	}
	return out
}

func query(t *testing.T, s *store.Store, f store.Filter, limit int) []*evidence.Envelope {
	t.Helper()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var out []*evidence.Envelope
	cursor := ""
	for range 1000 {
		p, err := sn.Query(ctx, f, cursor, limit)
		if err != nil {
			t.Fatalf("Query(%+v): %v", f, err)
		}
		// Scan decides from the rows alone: the same page, the same
		// cursor.
		sp, err := sn.Scan(ctx, f, cursor, limit)
		if err != nil {
			t.Fatalf("Scan(%+v): %v", f, err)
		}
		if got, want := ids(itemsOf(sp)), ids(itemsOf(p)); !cmp.Equal(got, want) || sp.Next != p.Next {
			t.Fatalf("Scan(%+v) after %q: %v next %q; Query: %v next %q", f, cursor, got, sp.Next, want, p.Next)
		}
		for _, it := range p.Items {
			if !bytes.Equal(it.Line, it.Envelope.AppendJCS(nil)) {
				t.Fatalf("item line is not its envelope")
			}
			out = append(out, it.Envelope)
		}
		if p.Next == "" {
			return out
		}
		cursor = p.Next
	}
	t.Fatal("paging does not end")
	return nil
}

func testQueryFilters(t *testing.T, h Harness) {
	s, envs := fixture(t, h)
	defer s.Close()
	seg2 := envs[9].SegmentID
	where := func(keep func(e *evidence.Envelope) bool) []*evidence.Envelope {
		var out []*evidence.Envelope
		for _, e := range envs {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.Filter
		keep func(e *evidence.Envelope) bool
	}{
		{"all", store.Filter{}, func(*evidence.Envelope) bool { return true }},
		{"segment", store.Filter{SegmentID: seg2}, func(e *evidence.Envelope) bool { return e.SegmentID == seg2 }},
		{"segment after sequence", store.Filter{SegmentID: seg2, AfterSequence: 4}, func(e *evidence.Envelope) bool { return e.SegmentID == seg2 && e.Sequence > 4 }},
		{"segment after its end", store.Filter{SegmentID: seg2, AfterSequence: 9}, func(*evidence.Envelope) bool { return false }},
		{"event type", store.Filter{EventTypes: []scalar.Token{scalar.MustToken("tool.result")}}, func(e *evidence.Envelope) bool { return e.EventType.String() == "tool.result" }},
		{"event types", store.Filter{EventTypes: []scalar.Token{scalar.MustToken("tool.result"), scalar.MustToken("session.start")}}, func(e *evidence.Envelope) bool {
			return e.EventType.String() == "tool.result" || e.EventType.String() == "session.start"
		}},
		{"actor", store.Filter{ActorID: scalar.MustLabel("agent:2")}, func(e *evidence.Envelope) bool { return e.ActorID.String() == "agent:2" }},
		{"environment", store.Filter{EnvironmentID: scalar.MustLabel("env-1")}, func(e *evidence.Envelope) bool { return e.EnvironmentID.String() == "env-1" }},
		{"adapter", store.Filter{AdapterID: scalar.MustToken("adapter-0")}, func(e *evidence.Envelope) bool { return e.AdapterID.String() == "adapter-0" }},
		{"trace", store.Filter{TraceID: scalar.MustLabel("trace-1")}, func(e *evidence.Envelope) bool { return e.TraceID.String() == "trace-1" }},
		{"session", store.Filter{SessionID: scalar.MustLabel("sess-5")}, func(e *evidence.Envelope) bool { return e.SessionID.String() == "sess-5" }},
		{"unknown trace", store.Filter{TraceID: scalar.MustLabel("nope")}, func(*evidence.Envelope) bool { return false }},
		{"since until", store.Filter{Since: ts("2026-11-22T10:00:05Z"), Until: ts("2026-11-22T10:00:12Z")}, func(e *evidence.Envelope) bool {
			return e.ClaimedAt.Compare(*ts("2026-11-22T10:00:05Z")) >= 0 && e.ClaimedAt.Compare(*ts("2026-11-22T10:00:12Z")) < 0
		}},
		{"since", store.Filter{Since: ts("2026-11-22T10:00:35.5Z")}, func(e *evidence.Envelope) bool { return e.ClaimedAt.Compare(*ts("2026-11-22T10:00:35.5Z")) >= 0 }},
		{"combined", store.Filter{TraceID: scalar.MustLabel("trace-2"), ActorID: scalar.MustLabel("agent:0"), Until: ts("2026-11-22T10:00:30Z")}, func(e *evidence.Envelope) bool {
			return e.TraceID.String() == "trace-2" && e.ActorID.String() == "agent:0" && e.ClaimedAt.Compare(*ts("2026-11-22T10:00:30Z")) < 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := ids(where(tc.keep))
			for _, limit := range []int{0, 1, 4} {
				if got := ids(query(t, s, tc.f, limit)); !cmp.Equal(got, want) {
					t.Errorf("limit %d: %s", limit, cmp.Diff(want, got))
				}
			}
		})
	}
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	_, err := sn.Query(ctx, store.Filter{AfterSequence: 3}, "", 0)
	wantCode(t, "after-sequence without segment", err, errcode.UsageInvalid)
	_, err = sn.Query(ctx, store.Filter{}, "", store.MaxPageSize+1)
	wantCode(t, "page too large", err, errcode.UsageInvalid)
	_, err = sn.Query(ctx, store.Filter{SegmentID: scalar.UUID{0x01, 6: 0x70, 8: 0x80}}, "", 0)
	wantCode(t, "unknown segment", err, errcode.SegmentNotFound)
}

func testCursorPaging(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	in := Seal(t, sealing.Config{MaxEnvelopes: 9}, Events(0, 20), false)
	mustAppend(t, s, in)
	f := store.Filter{TraceID: scalar.MustLabel("trace-1")}
	sn, _ := s.Snapshot(ctx)
	p, err := sn.Query(ctx, f, "", 2)
	sn.Close()
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %v, next %q", err, p.Next)
	}
	seen := ids(itemsOf(p))
	// Appends between pages: the cursor names a position, so the later
	// pages continue exactly where the first stopped and include the new
	// matches.
	more := continueFrom(t, s, false, sealing.Config{MaxEnvelopes: 9}, Events(20, 40), false)
	mustAppend(t, s, more)
	cursor := p.Next
	for cursor != "" {
		sn, _ := s.Snapshot(ctx)
		p, err := sn.Query(ctx, f, cursor, 2)
		sn.Close()
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, ids(itemsOf(p))...)
		cursor = p.Next
		if len(seen) > 100 {
			t.Fatal("paging does not end")
		}
	}
	var want []string
	for _, e := range append(Envelopes(t, in), Envelopes(t, more)...) {
		if e.TraceID.String() == "trace-1" {
			want = append(want, ids([]*evidence.Envelope{e})...)
		}
	}
	if !cmp.Equal(seen, want) {
		t.Errorf("paging across appends: %s", cmp.Diff(want, seen))
	}

	sn, _ = s.Snapshot(ctx)
	defer sn.Close()
	_, err = sn.Query(ctx, store.Filter{TraceID: scalar.MustLabel("trace-2")}, p.Next, 2)
	wantCode(t, "cursor of another filter", err, errcode.UsageInvalid)
	for _, c := range []string{"x", strings.Repeat("A", 23), p.Next + "A", strings.ToUpper(p.Next)} {
		_, err = sn.Query(ctx, f, c, 2)
		wantCode(t, "bad cursor "+c, err, errcode.UsageInvalid)
	}
}

func itemsOf(p *store.Page) []*evidence.Envelope {
	var out []*evidence.Envelope
	for _, it := range p.Items {
		out = append(out, it.Envelope)
	}
	return out
}

// testSelect plans bundles from the store (arxi-bundle --store): each
// includes exactly the segments holding an envelope the selector's Match
// selects, or that it names, with exactly those envelopes disclosed.
func testSelect(t *testing.T, h Harness) {
	s, envs := fixture(t, h)
	defer s.Close()
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	segs, _ := sn.Segments(ctx)
	render := func(m *bundle.Manifest) string {
		var parts []string
		for _, g := range m.Segments {
			parts = append(parts, fmt.Sprintf("%s:%d/%d", g.SegmentID, g.Disclosed, g.EnvelopeCount))
		}
		return strings.Join(parts, " ")
	}
	expect := func(sel bundle.Selector) string {
		var parts []string
		for _, g := range segs {
			n := 0
			for _, e := range envs {
				if e.SegmentID == g.ID() && sel.Match(e) {
					n++
				}
			}
			if n > 0 || sel.NamesSegment(g.ID()) {
				parts = append(parts, fmt.Sprintf("%s:%d/%d", g.ID(), n, g.Count))
			}
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name string
		sel  bundle.Selector
	}{
		{"all", bundle.Selector{All: true}},
		{"segment", bundle.Selector{Segments: []scalar.UUID{segs[1].ID()}}},
		{"trace", bundle.Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-3")}}},
		{"union", bundle.Selector{Segments: []scalar.UUID{segs[0].ID()}, TraceIDs: []scalar.Label{scalar.MustLabel("trace-3")},
			SessionIDs: []scalar.Label{scalar.MustLabel("sess-1")}, EventTypes: []scalar.Token{scalar.MustToken("session.start")}}},
		{"time", bundle.Selector{Since: ts("2026-11-22T10:00:20Z"), Until: ts("2026-11-22T10:00:23Z")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.sel.Normalize(); err != nil {
				t.Fatal(err)
			}
			m, err := bundle.Plan(ctx, storesource.New(sn), tc.sel, bundle.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := render(m), expect(tc.sel); got != want {
				t.Errorf("Plan = %s, want %s", got, want)
			}
		})
	}
	_, err := bundle.Plan(ctx, storesource.New(sn), bundle.Selector{TraceIDs: []scalar.Label{scalar.MustLabel("none")}}, bundle.Options{})
	wantCode(t, "selection of nothing", err, errcode.BundleEmpty)
}

func testStreamFilter(t *testing.T, h Harness) {
	s, envs := fixture(t, h)
	defer s.Close()
	// trace-3 appears in every segment but the last (events 3, 7, 11, …
	// with i%5 != 4), so the stream holds those segments whole.
	out := StreamOf(t, s, store.Filter{TraceID: scalar.MustLabel("trace-3"), Until: ts("2026-11-22T10:00:20Z")})
	CheckStream(t, out)
	var want []scalar.UUID
	for _, e := range envs {
		if e.TraceID.String() == "trace-3" && e.ClaimedAt.Compare(*ts("2026-11-22T10:00:20Z")) < 0 && !slices.Contains(want, e.SegmentID) {
			want = append(want, e.SegmentID)
		}
	}
	var got []scalar.UUID
	for _, r := range Records(t, out) {
		if g, ok := r.(*evidence.Genesis); ok {
			got = append(got, g.SegmentID)
		}
	}
	if !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("stream holds segments %v, want %v", got, want)
	}
	if n := len(Envelopes(t, out)); n != 9*len(want) {
		t.Errorf("stream holds %d envelopes, want whole segments (%d)", n, 9*len(want))
	}
	one := StreamOf(t, s, store.Filter{SegmentID: envs[30].SegmentID})
	CheckStream(t, one)
	if n := len(Envelopes(t, one)); n != 9 {
		t.Errorf("segment stream holds %d envelopes", n)
	}
	if none := StreamOf(t, s, store.Filter{TraceID: scalar.MustLabel("nope")}); len(none) != 0 {
		t.Errorf("stream of no match = %q", none)
	}
}

func testMeta(t *testing.T, h Harness) {
	b := h.New(t)
	s := open(t, b, 0)
	if _, ok, err := s.Meta(ctx, "example.key"); ok || err != nil {
		t.Errorf("unset meta: %v, %v", ok, err)
	}
	if err := s.SetMeta(ctx, "example.key", "ab12"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "example.count", "1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "example.count", "2"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "bad key", s.SetMeta(ctx, "Bad Key", "x"), errcode.InputFieldInvalid)
	// In a batch: rolled back with it, committed with it.
	a, _ := s.Appender(ctx)
	if err := a.SetMeta(ctx, "rotation.pending", "yes"); err != nil {
		t.Fatal(err)
	}
	a.Rollback()
	if _, ok, _ := s.Meta(ctx, "rotation.pending"); ok {
		t.Error("a rolled-back batch's meta value is stored")
	}
	a.SetMeta(ctx, "rotation.done", "yes")
	if _, err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()
	s = open(t, h.Reopen(t, b), 0)
	defer s.Close()
	for k, want := range map[string]string{"example.key": "ab12", "example.count": "2", "rotation.done": "yes"} {
		if v, ok, err := s.Meta(ctx, k); !ok || err != nil || v != want {
			t.Errorf("Meta(%s) = %q, %v, %v; want %q", k, v, ok, err, want)
		}
	}
}

func testHead(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	head, err := s.Head(ctx, true)
	if err != nil || head.Genesis != nil || head.Last != nil {
		t.Fatalf("empty store, --open: %+v, %v", head, err)
	}
	_, err = s.Head(ctx, false)
	wantCode(t, "empty store", err, errcode.SegmentNoneOpen)
	in := Seal(t, sealing.Config{MaxEnvelopes: 4}, Events(0, 6), false)
	mustAppend(t, s, in)
	head, err = s.Head(ctx, false)
	if err != nil || head.Genesis == nil {
		t.Fatalf("open segment: %+v, %v", head, err)
	}
	st := sealing.Continue(head.Genesis, head.Chain, head.LastClaimedAt, head.Last)
	envs := Envelopes(t, in)
	o := st.Open
	var hashes []scalar.Digest
	for _, e := range envs[4:] {
		hashes = append(hashes, e.ContentHash)
	}
	if o.Chain.Count != 2 || o.Chain.Head != envs[5].ChainHash || o.Chain.Merkle.Root() != evidence.MerkleRoot(hashes) ||
		o.LastClaimedAt != envs[5].ClaimedAt || !o.Announce || o.Genesis.SegmentID != envs[5].SegmentID {
		t.Errorf("open segment state = %+v", o)
	}
}

// testSnapshots checks that a snapshot keeps its view while the writer
// commits, and that readers running during appends always see whole
// batches.
func testSnapshots(t *testing.T, h Harness) {
	s := open(t, h.New(t), 0)
	defer s.Close()
	in := Seal(t, sealing.Config{MaxEnvelopes: 50}, Events(0, 200), true)
	first := lineOf(in, "envelope", 40)
	mustAppend(t, s, []byte(strings.Join(Lines(in)[:first], "")))
	before, _ := s.Snapshot(ctx)
	defer before.Close()
	want := dump(t, s)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			sn, err := s.Snapshot(ctx)
			if err != nil {
				errs <- err
				return
			}
			var out bytes.Buffer
			err = sn.WriteStream(ctx, &out, store.Filter{})
			sn.Close()
			if err != nil {
				errs <- err
				return
			}
			// Batches are 10 envelopes (plus whatever seal or genesis
			// came with them): a snapshot holds a whole number of batches.
			if n := bytes.Count(out.Bytes(), []byte(`"record":"envelope"`)); n%10 != 0 {
				errs <- fmt.Errorf("snapshot holds %d envelopes, not whole batches", n)
				return
			}
		}
	}()
	_, _, err := appendStream(t, s, []byte(Lines(in)[lineOf(in, "genesis", 0)]+strings.Join(Lines(in)[first:], "")), 10)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	var out bytes.Buffer
	if err := before.WriteStream(ctx, &out, store.Filter{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("a snapshot taken before the appends sees them")
	}
	if got := dump(t, s); !bytes.Equal(got, in) {
		t.Error("store differs from the stream after concurrent reads")
	}
}

func testCorruption(t *testing.T, h Harness) {
	// Three segments of 9, the last open with 6 envelopes; blob records in
	// segments 1 (event 3), 2 (event 10) and 3 (event 24).
	in := Seal(t, sealing.Config{MaxEnvelopes: 9}, Events(0, 24), false)
	envs := Envelopes(t, in)
	var blob scalar.Digest
	for _, r := range Records(t, in) {
		if a, ok := r.(*evidence.Attachment); ok {
			blob = a.Hash
		}
	}
	// A payload changed, still canonical JSON: only its content hash
	// tells.
	flip := func(pos int) []byte {
		b := []byte(envs[pos-1].Payload)
		b[len(`{"i":`)] = '7'
		return b
	}
	const (
		atOpen   = iota // Open fails
		atQuery         // Open succeeds; reading the row fails
		atStream        // Open succeeds; streaming the segment fails
	)
	// A chain break in a row that is otherwise valid: only walking the
	// chain finds it.
	one := func(c Corruption) []Corruption { return []Corruption{c} }
	for _, tc := range []struct {
		name  string
		c     []Corruption
		when  int
		depth int
		query store.Filter
	}{
		{"open segment payload", one(Corruption{"envelopes", uint64(23), "payload", flip(23)}), atOpen, 0, store.Filter{}},
		{"open segment payload not JSON", one(Corruption{"envelopes", uint64(24), "payload", []byte(`{"actor_id":`)}), atOpen, 0, store.Filter{}},
		{"open segment content_hash", one(Corruption{"envelopes", uint64(22), "content_hash", make([]byte, 32)}), atOpen, 0, store.Filter{}},
		{"open segment chain_hash", one(Corruption{"envelopes", uint64(21), "chain_hash", make([]byte, 32)}), atOpen, 0, store.Filter{}},
		{"open segment head", one(Corruption{"segments", int64(3), "head", make([]byte, 32)}), atOpen, 0, store.Filter{}},
		{"open segment count", one(Corruption{"segments", int64(3), "envelope_count", int64(5)}), atOpen, 0, store.Filter{}},
		{"beyond verify depth", one(Corruption{"envelopes", uint64(20), "payload", flip(20)}), atQuery, 2, store.Filter{SegmentID: envs[19].SegmentID}},
		{"sealed segment payload", one(Corruption{"envelopes", uint64(5), "payload", flip(5)}), atQuery, 0, store.Filter{}},
		{"sealed segment seal", one(Corruption{"segments", int64(1), "seal", bytes.Replace(sealLine(t, in, 0), []byte(`"envelope_count":9`), []byte(`"envelope_count":8`), 1)}), atOpen, 0, store.Filter{}},
		{"sealed segment seal sealed_at", one(Corruption{"segments", int64(1), "seal", bytes.Replace(sealLine(t, in, 0), []byte(`"sealed_at":"2026-`), []byte(`"sealed_at":"2027-`), 1)}), atOpen, 0, store.Filter{}},
		{"sealed segment head", one(Corruption{"segments", int64(2), "head", make([]byte, 32)}), atOpen, 0, store.Filter{}},
		{"sealed segment last envelope", one(Corruption{"envelopes", uint64(18), "chain_hash", make([]byte, 32)}), atOpen, 0, store.Filter{}},
		{"genesis", one(Corruption{"segments", int64(2), "genesis", bytes.Replace([]byte(strings.TrimSuffix(Lines(in)[lineOf(in, "genesis", 1)], "\n")), []byte("recorder-test"), []byte("recorder-evil"), 1)}), atOpen, 0, store.Filter{}},
		{"index column", one(Corruption{"envelopes", uint64(2), "event_type", "tool.call"}), atQuery, 0, store.Filter{}},
		{"chain break", one(Corruption{"envelopes", uint64(12), "chain_hash", envs[12].ChainHash[:]}), atStream, 0, store.Filter{}},
		{"attachment data", one(Corruption{"attachments", blob, "data", []byte("blob X\n")}), atStream, 0, store.Filter{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := h.New(t)
			s := open(t, b, 0)
			mustAppend(t, s, in)
			for _, c := range tc.c {
				h.Corrupt(t, b, c)
			}
			b = h.Reopen(t, b)
			defer b.Close()
			s, err := store.Open(ctx, b, store.Config{VerifyDepth: tc.depth})
			if tc.when == atOpen {
				wantCode(t, "open", err, errcode.StoreCorrupt)
				if e, ok := errcode.As(err); ok && !strings.Contains(e.Msg, "row") {
					t.Errorf("error %v does not name the row", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			sn, _ := s.Snapshot(ctx)
			defer sn.Close()
			if tc.when == atQuery {
				_, err = sn.Query(ctx, tc.query, "", 0)
				wantCode(t, "query", err, errcode.StoreCorrupt)
			}
			err = sn.WriteStream(ctx, &bytes.Buffer{}, store.Filter{})
			wantCode(t, "stream", err, errcode.StoreCorrupt)
			if e, ok := errcode.As(err); ok && !strings.Contains(e.Msg, "row") {
				t.Errorf("error %v does not name the row", err)
			}
		})
	}
}

func sealLine(t *testing.T, in []byte, n int) []byte {
	return []byte(strings.TrimSuffix(Lines(in)[lineOf(in, "seal", n)], "\n"))
}
