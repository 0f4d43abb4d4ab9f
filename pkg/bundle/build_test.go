package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/stream"
)

// fixture is 12 envelopes in three sealed segments of four, an attachment
// on every third (three blobs, reused across segments).
var fixture = bundletest.Options{Envelopes: 12, PerSegment: 4, AttachEvery: 3}

// build spools a sealed stream and builds the bundle of sel from it.
func build(t *testing.T, data []byte, sel Selector) ([]byte, *Manifest, error) {
	t.Helper()
	sp, err := Spool(context.Background(), bytes.NewReader(data), SpoolConfig{Dir: t.TempDir()})
	if err != nil {
		return nil, nil, err
	}
	defer sp.Close()
	if err := sel.Normalize(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m, err := Build(context.Background(), sp, sel, &out, Options{})
	return out.Bytes(), m, err
}

func mustBuild(t *testing.T, data []byte, sel Selector) ([]byte, *Manifest) {
	t.Helper()
	b, m, err := build(t, data, sel)
	if err != nil {
		t.Fatal(err)
	}
	return b, m
}

// shape renders a bundle's records: M manifest, G genesis, A attachment,
// E<seq> envelope, x<seq> elided, S seal.
func shape(t *testing.T, b []byte) string {
	t.Helper()
	lines := strings.SplitAfter(string(b), "\n")
	if _, err := ParseManifest([]byte(strings.TrimSuffix(lines[0], "\n"))); err != nil {
		t.Fatalf("line 1: %v", err)
	}
	r := stream.NewReader(strings.NewReader(strings.Join(lines[1:], "")), stream.Sealed, evidence.Limits{})
	parts := []string{"M"}
	var g stream.Grammar
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("bundle record: %v", err)
		}
		if err := g.Next(rec.Kind()); err != nil {
			t.Fatalf("bundle record order: %v", err)
		}
		switch v := rec.(type) {
		case *evidence.Genesis:
			parts = append(parts, "|G")
		case *evidence.Attachment:
			parts = append(parts, "A")
		case *evidence.Envelope:
			parts = append(parts, fmt.Sprintf("E%d", v.Sequence))
		case *evidence.Elided:
			parts = append(parts, fmt.Sprintf("x%d", v.Sequence))
		case *evidence.Seal:
			parts = append(parts, "S")
		}
	}
	return strings.Join(parts, " ")
}

func TestBuildShapes(t *testing.T) {
	data := bundletest.Stream(fixture)
	for _, tc := range []struct {
		name string
		sel  Selector
		want string
	}{
		// Events 0, 3, 6 and 9 carry blobs 0, 1, 2 and 0 again.
		{"stream", Selector{Stream: true}, "M |G A E1 E2 E3 A E4 S |G E1 E2 A E3 E4 S |G E1 E2 E3 E4 S"},
		{"all", Selector{All: true}, "M |G A E1 E2 E3 A E4 S |G E1 E2 A E3 E4 S |G E1 E2 E3 E4 S"},
		// trace-1 is events 5..9: segment 2 (events 4-7) and 3 (8-11).
		// Blob 0 comes again before event 9, its first disclosed reference.
		{"trace", Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}}, "M |G x1 E2 A E3 E4 S |G E1 A E2 x3 x4 S"},
		// Event 9 references blob 0 (9/3 % 3 = 0), first written in
		// segment 1 of the stream but not exported: it moves to its first
		// disclosed reference.
		{"blob moves", Selector{Since: bundletestAt(t, 9), Until: bundletestAt(t, 10)}, "M |G x1 A E2 x3 x4 S"},
		{"event type", Selector{EventTypes: []scalar.Token{scalar.MustToken("session.start")}}, "M |G A E1 x2 x3 x4 S |G E1 x2 x3 x4 S |G E1 x2 x3 x4 S"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := mustBuild(t, data, tc.sel)
			if got := shape(t, b); got != tc.want {
				t.Errorf("bundle = %s\nwant     %s", got, tc.want)
			}
		})
	}
}

func bundletestAt(t *testing.T, i int) *scalar.Timestamp {
	t.Helper()
	return ts(t, bundletest.Base.Add(timeSeconds(i)).Format("2006-01-02T15:04:05Z"))
}

func TestBuildManifest(t *testing.T) {
	recs := bundletest.Records(fixture)
	var segs []*evidence.Genesis
	var seals []*evidence.Seal
	for _, r := range recs {
		switch v := r.(type) {
		case *evidence.Genesis:
			segs = append(segs, v)
		case *evidence.Seal:
			seals = append(seals, v)
		}
	}
	b, m := mustBuild(t, bundletest.Encode(recs), Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}})
	if len(m.Segments) != 2 || m.Segments[0].SegmentID != segs[1].SegmentID || m.Segments[1].SegmentID != segs[2].SegmentID {
		t.Fatalf("segments = %+v, want the second and third", m.Segments)
	}
	// The entry commits to the segment's content: its head and Merkle root
	// are the seal's (SPEC §9.1).
	want := Segment{SegmentID: segs[1].SegmentID, GenesisHash: segs[1].GenesisHash, HeadChainHash: seals[1].HeadChainHash,
		MerkleRoot: &seals[1].MerkleRoot, EnvelopeCount: 4, Disclosed: 3, Elided: 1, Sealed: true}
	got := m.Segments[0]
	if got.MerkleRoot == nil || *got.MerkleRoot != *want.MerkleRoot {
		t.Errorf("segment 1 merkle_root = %v, want %s", got.MerkleRoot, want.MerkleRoot)
	}
	if got.MerkleRoot, want.MerkleRoot = nil, nil; got != want {
		t.Errorf("segment 1 = %+v, want %+v", got, want)
	}
	if len(m.OmittedParents) != 1 || m.OmittedParents[0] != segs[0].SegmentID {
		t.Errorf("omitted_parents = %v, want [%s]", m.OmittedParents, segs[0].SegmentID)
	}
	if len(m.Attachments) != 2 {
		t.Errorf("attachments = %v, want the two blobs of events 6 and 9", m.Attachments)
	}
	if want := m.DeriveID(segs[1].CreatedAt); m.BundleID != want {
		t.Errorf("bundle_id = %s, want %s", m.BundleID, want)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if got := m.AppendJCS(nil); !bytes.Equal(got, line) {
		t.Errorf("returned manifest differs from line 1:\n%s\n%s", got, line)
	}
}

// TestBuildDeterministic: the same stream and selector give the same bytes,
// whatever the spool directory, run after run, and the same bytes as the
// golden bundle testdata/golden.arxb (go test -update rewrites it).
func TestBuildDeterministic(t *testing.T) {
	data := bundletest.Stream(bundletest.Options{Envelopes: 40, PerSegment: 15, AttachEvery: 7})
	sel := Selector{SessionIDs: []scalar.Label{scalar.MustLabel("sess-1")}, EventTypes: []scalar.Token{scalar.MustToken("model.reply")}}
	first, _ := mustBuild(t, data, sel)
	for range 3 {
		if again, _ := mustBuild(t, data, sel); !bytes.Equal(first, again) {
			t.Fatal("building twice gave different bytes")
		}
	}
	const golden = "testdata/golden.arxb"
	if *update {
		if err := os.WriteFile(golden, first, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, want) {
		t.Errorf("bundle differs from %s; if the format changed on purpose, run go test ./pkg/bundle -update", golden)
	}
}

func TestBuildErrors(t *testing.T) {
	data := bundletest.Stream(fixture)
	for _, tc := range []struct {
		name string
		sel  Selector
		code errcode.Code
	}{
		{"nothing matches", Selector{TraceIDs: []scalar.Label{scalar.MustLabel("no-such-trace")}}, errcode.BundleEmpty},
		{"unknown segment", Selector{Segments: []scalar.UUID{{1, 2, 3, 4, 5, 6, 0x70, 0, 0x80}}}, errcode.SegmentNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, err := build(t, data, tc.sel)
			if errcode.CodeOf(err) != tc.code {
				t.Fatalf("Build = %v, want %s", err, tc.code)
			}
			if len(b) != 0 {
				t.Errorf("Build wrote %d bytes before failing", len(b))
			}
		})
	}
}

func TestBuildLimits(t *testing.T) {
	data := bundletest.Stream(fixture)
	sp, err := Spool(context.Background(), bytes.NewReader(data), SpoolConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for _, lim := range []Limits{{Segments: 2}, {EnvelopesPerSegment: 3}, {Attachments: 2}} {
		_, err := Build(context.Background(), sp, Selector{All: true}, io.Discard, Options{Limits: lim})
		if errcode.CodeOf(err) != errcode.BundleLimitExceeded {
			t.Errorf("Build with %+v = %v, want bundle.limit_exceeded", lim, err)
		}
	}
}

// TestBuildOpenSegment: an open last segment is exported without a seal.
func TestBuildOpenSegment(t *testing.T) {
	o := fixture
	o.LeaveOpen = true
	o.Envelopes = 6
	b, m := mustBuild(t, bundletest.Stream(o), Selector{Stream: true})
	if got, want := shape(t, b), "M |G A E1 E2 E3 A E4 S |G E1 E2"; got != want {
		t.Errorf("bundle = %s, want %s", got, want)
	}
	if m.Segments[1].Sealed {
		t.Error("open segment listed as sealed")
	}
}

func TestSpoolRejects(t *testing.T) {
	recs := bundletest.Records(fixture)
	enc := func(recs []evidence.Record) []byte { return bundletest.Encode(recs) }
	env := func(i int) *evidence.Envelope {
		n := 0
		for _, r := range recs {
			if e, ok := r.(*evidence.Envelope); ok {
				if n == i {
					cp := *e
					return &cp
				}
				n++
			}
		}
		panic("no envelope")
	}
	replace := func(old evidence.Record, new ...evidence.Record) []byte {
		var out []evidence.Record
		for _, r := range recs {
			if r == old {
				out = append(out, new...)
			} else {
				out = append(out, r)
			}
		}
		return enc(out)
	}
	original := func(i int) evidence.Record {
		e := env(i)
		for _, r := range recs {
			if v, ok := r.(*evidence.Envelope); ok && v.EnvelopeID == e.EnvelopeID {
				return r
			}
		}
		panic("no record")
	}
	payload := env(1)
	payload.Payload = `{"i":1,"tool":"forged"}`
	chain := env(1)
	chain.ChainHash[0] ^= 1
	elided := env(1).Elided()
	for _, tc := range []struct {
		name string
		in   []byte
		code errcode.Code
	}{
		{"empty", nil, errcode.BundleEmpty},
		{"content changed", replace(original(1), payload), errcode.ChainHashMismatch},
		{"chain hash changed", replace(original(1), chain), errcode.ChainHashMismatch},
		{"envelope removed", replace(original(1)), errcode.ChainDiscontinuity},
		{"elided record", replace(original(1), elided), errcode.InputUnexpectedRecord},
		{"blob removed", replace(recs[1]), errcode.InputAttachmentMiss},
		{"blob repeated", replace(recs[1], recs[1], recs[1]), errcode.InputUnexpectedRecord},
		{"not canonical", []byte(strings.Replace(string(enc(recs)), `{"created_at"`, `{ "created_at"`, 1)), errcode.InputNotCanonical},
		{"truncated", enc(recs)[:len(enc(recs))-10], errcode.InputMalformedJSON},
		{"bundle given", mustBundle(t, enc(recs)), errcode.InputWrongKind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Spool(context.Background(), bytes.NewReader(tc.in), SpoolConfig{Dir: t.TempDir()})
			if errcode.CodeOf(err) != tc.code {
				t.Fatalf("Spool = %v, want %s", err, tc.code)
			}
		})
	}
}

func mustBundle(t *testing.T, data []byte) []byte {
	b, _ := mustBuild(t, data, Selector{All: true})
	return b
}

// TestSpoolCleansUp: the spool file is gone once the spool is closed, and
// a failed spool leaves nothing.
func TestSpoolCleansUp(t *testing.T) {
	dir := t.TempDir()
	sp, err := Spool(context.Background(), bytes.NewReader(bundletest.Stream(fixture)), SpoolConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sp.Close()
	if _, err := Spool(context.Background(), strings.NewReader("garbage\n"), SpoolConfig{Dir: dir}); err == nil {
		t.Fatal("spooling garbage succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("spool directory holds %d files, want none", len(ents))
	}
}
