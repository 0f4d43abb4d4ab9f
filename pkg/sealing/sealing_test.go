package sealing

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/stream"
)

var recorder = scalar.MustLabel("recorder-1")

// event returns an unsealed line claimed at base+offset.
func event(offset time.Duration, extra string) string {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(offset).Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"event_type":"tool.call","actor_id":"agent:alpha","environment_id":"prod","adapter_id":"example","claimed_at":%q,"payload":{"n":%d}%s}`+"\n", at, offset.Milliseconds(), extra)
}

func seal(t *testing.T, cfg Config, sealAtEnd bool, lines ...string) ([]evidence.Record, []byte, error) {
	t.Helper()
	if cfg.RecorderID.IsZero() {
		cfg.RecorderID = recorder
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = Stream(context.Background(), s, strings.NewReader(strings.Join(lines, "")), &out, StreamOptions{SealAtEnd: sealAtEnd})
	r := stream.NewReader(bytes.NewReader(out.Bytes()), stream.Sealed, evidence.Limits{})
	var recs []evidence.Record
	var g stream.Grammar
	for {
		rec, rerr := r.Next()
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			t.Fatalf("output does not read back: %v", rerr)
		}
		if gerr := g.Next(rec.Kind()); gerr != nil {
			t.Fatalf("output line %d: %v", r.Line(), gerr)
		}
		recs = append(recs, rec)
	}
	if gerr := g.End(); gerr != nil {
		t.Fatalf("output: %v", gerr)
	}
	return recs, out.Bytes(), err
}

// shape renders records as a compact string: G genesis, A attachment,
// E envelope, S:reason seal.
func shape(recs []evidence.Record) string {
	var parts []string
	for _, r := range recs {
		switch v := r.(type) {
		case *evidence.Genesis:
			parts = append(parts, "G")
		case *evidence.Attachment:
			parts = append(parts, "A")
		case *evidence.Envelope:
			parts = append(parts, fmt.Sprintf("E%d", v.Sequence))
		case *evidence.Seal:
			parts = append(parts, "S:"+string(v.Reason))
		}
	}
	return strings.Join(parts, " ")
}

// checkChains replays every segment and checks linkage between them.
func checkChains(t *testing.T, recs []evidence.Record) {
	t.Helper()
	var ch *evidence.Chain
	var lastSeal *evidence.Link
	for _, r := range recs {
		switch v := r.(type) {
		case *evidence.Genesis:
			if !v.Verify() {
				t.Errorf("genesis %s does not verify", v.SegmentID)
			}
			switch {
			case lastSeal == nil && v.Predecessor != nil && ch != nil:
				t.Errorf("genesis %s links but nothing was sealed", v.SegmentID)
			case lastSeal != nil && (v.Predecessor == nil || *v.Predecessor != *lastSeal):
				t.Errorf("genesis %s predecessor = %+v, want %+v", v.SegmentID, v.Predecessor, lastSeal)
			}
			ch = evidence.NewChain(v)
		case *evidence.Envelope:
			if evidence.ContentHash(&v.Content) != v.ContentHash {
				t.Errorf("sequence %d: content hash does not recompute", v.Sequence)
			}
			if err := ch.Next(v.SegmentID, v.Sequence, v.ContentHash, v.ChainHash); err != nil {
				t.Error(err)
			}
		case *evidence.Seal:
			if err := ch.CheckSeal(v); err != nil {
				t.Error(err)
			}
			lastSeal = &evidence.Link{SegmentID: v.SegmentID, ChainHead: v.HeadChainHash}
		}
	}
}

func TestVectorThroughStream(t *testing.T) {
	in, err := os.ReadFile("../../testdata/vectors/seal-basic.input.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../testdata/vectors/seal-basic.expected.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := seal(t, Config{}, true, string(in))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("sealed vector differs:\n got %s\nwant %s", got, want)
	}
}

func TestAutoSealCount(t *testing.T) {
	var lines []string
	for i := range 7 {
		lines = append(lines, event(time.Duration(i)*time.Second, ""))
	}
	for _, tc := range []struct {
		max       uint64
		sealAtEnd bool
		want      string
	}{
		{1, false, "G E1 S:auto_count G E1 S:auto_count G E1 S:auto_count G E1 S:auto_count G E1 S:auto_count G E1 S:auto_count G E1 S:auto_count"},
		{3, false, "G E1 E2 E3 S:auto_count G E1 E2 E3 S:auto_count G E1"},
		{3, true, "G E1 E2 E3 S:auto_count G E1 E2 E3 S:auto_count G E1 S:end_of_stream"},
		{7, true, "G E1 E2 E3 E4 E5 E6 E7 S:auto_count"}, // exactly N: sealed by count, no empty segment at end
		{8, false, "G E1 E2 E3 E4 E5 E6 E7"},
	} {
		recs, _, err := seal(t, Config{MaxEnvelopes: tc.max}, tc.sealAtEnd, lines...)
		if err != nil {
			t.Fatal(err)
		}
		if got := shape(recs); got != tc.want {
			t.Errorf("max %d: %s\nwant %s", tc.max, got, tc.want)
		}
		checkChains(t, recs)
	}
}

func TestAutoSealDuration(t *testing.T) {
	ms := time.Millisecond
	recs, _, err := seal(t, Config{MaxDuration: time.Minute}, true,
		event(0, ""),
		event(59*time.Second+999*ms, ""), // just under D: same segment
		event(30*time.Second, ""),        // claimed_at goes backwards: recorded in arrival order
		event(time.Minute, ""),           // exactly D after created_at: sealed before it
		event(2*time.Minute-ms, ""),      // D measured from the new segment's created_at
		event(2*time.Minute, ""),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := shape(recs), "G E1 E2 E3 S:auto_duration G E1 E2 S:auto_duration G E1 S:end_of_stream"; got != want {
		t.Fatalf("shape = %s\nwant %s", got, want)
	}
	checkChains(t, recs)
	// sealed_at is the claimed_at of the segment's last envelope (arrival
	// order), not the latest time.
	s := recs[4].(*evidence.Seal)
	if got := s.SealedAt.String(); got != "2026-11-22T10:00:30.000000000Z" {
		t.Errorf("first sealed_at = %s", got)
	}
	if g := recs[5].(*evidence.Genesis); g.CreatedAt.String() != "2026-11-22T10:01:00.000000000Z" {
		t.Errorf("second created_at = %s", g.CreatedAt)
	}
}

func TestPredecessorAndDerivedIDs(t *testing.T) {
	pred := &evidence.Link{SegmentID: scalar.DeriveUUID7(scalar.Timestamp{}, []byte("p")), ChainHead: scalar.Sum([]byte("head"))}
	recs, _, err := seal(t, Config{Start: Start{Predecessor: pred}}, true, event(0, ""), event(time.Second, `,"envelope_id":"01a202b2-c500-7748-bb0a-c67fa3eabe09"`))
	if err != nil {
		t.Fatal(err)
	}
	g := recs[0].(*evidence.Genesis)
	if g.Predecessor == nil || *g.Predecessor != *pred {
		t.Fatalf("predecessor = %+v", g.Predecessor)
	}
	e1, e2 := recs[1].(*evidence.Envelope), recs[2].(*evidence.Envelope)
	var h evidence.Hasher
	if want := evidence.DeriveSegmentID(e1.ClaimedAt, recorder, pred, h.Anon(&e1.Content)); g.SegmentID != want {
		t.Errorf("segment id = %s, want %s (derived with the predecessor head)", g.SegmentID, want)
	}
	if _, _, err := seal(t, Config{}, true, event(0, "")); err != nil {
		t.Fatal(err)
	}
	if want := evidence.DeriveEnvelopeID(e1.ClaimedAt, g.SegmentID, 1, h.Anon(&e1.Content)); e1.EnvelopeID != want {
		t.Errorf("derived envelope id = %s, want %s", e1.EnvelopeID, want)
	}
	if e2.EnvelopeID.String() != "01a202b2-c500-7748-bb0a-c67fa3eabe09" {
		t.Errorf("given envelope id was replaced: %s", e2.EnvelopeID)
	}
	// A different predecessor gives a different segment id for the same events.
	other, _, _ := seal(t, Config{}, true, event(0, ""), event(time.Second, ""))
	if other[0].(*evidence.Genesis).SegmentID == g.SegmentID {
		t.Errorf("segment id does not depend on the predecessor")
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func attachmentLine(data string) string {
	return fmt.Sprintf(`{"data":%q,"hash":%q,"record":"attachment","size":%d}`+"\n", b64(data), scalar.Sum([]byte(data)).String(), len(data))
}

func TestAttachments(t *testing.T) {
	x, y := "blob x\n", "blob y\n"
	hx, hy := scalar.Sum([]byte(x)), scalar.Sum([]byte(y))
	first, second := x, y
	if bytes.Compare(hx[:], hy[:]) > 0 {
		first, second = y, x
	}
	recs, _, err := seal(t, Config{}, true,
		attachmentLine("never referenced"),
		attachmentLine(second),
		event(0, ""), // the attachment record is held, not emitted yet
		event(time.Second, fmt.Sprintf(`,"attachments":[{"content_type":"text/plain","data":%q},{"content_type":"text/plain","hash":%q,"size":%d}]`,
			b64(first), scalar.Sum([]byte(second)).String(), len(second))),
		event(2*time.Second, fmt.Sprintf(`,"attachments":[{"content_type":"application/octet-stream","data":%q}]`, b64(x))), // already emitted
		attachmentLine(x), // repeated record: ignored
		event(3*time.Second, fmt.Sprintf(`,"attachments":[{"content_type":"a","data":%q},{"content_type":"b","data":%q}]`, b64("z"), b64("z"))),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := shape(recs), "G E1 A A E2 E3 A E4 S:end_of_stream"; got != want {
		t.Fatalf("shape = %s, want %s", got, want)
	}
	a1, a2 := recs[2].(*evidence.Attachment), recs[3].(*evidence.Attachment)
	if string(a1.Data) != first || string(a2.Data) != second {
		t.Errorf("blobs emitted as %q, %q; want hash order %q, %q", a1.Data, a2.Data, first, second)
	}
	e2 := recs[4].(*evidence.Envelope)
	if len(e2.Attachments) != 2 || bytes.Compare(e2.Attachments[0].Hash[:], e2.Attachments[1].Hash[:]) >= 0 {
		t.Errorf("references not sorted by hash: %+v", e2.Attachments)
	}
	if e4 := recs[7].(*evidence.Envelope); len(e4.Attachments) != 2 {
		t.Errorf("one blob under two content types: %+v", e4.Attachments)
	}
	checkChains(t, recs)
}

func TestRejectedLineLeavesNoTrace(t *testing.T) {
	unknown := scalar.Sum([]byte("nobody sent this")).String()
	for _, tc := range []struct {
		name, bad string
		code      errcode.Code
	}{
		{"unknown reference", event(time.Second, fmt.Sprintf(`,"attachments":[{"content_type":"a","hash":%q,"size":3}]`, unknown)), errcode.InputAttachmentMiss},
		{"reference size mismatch", attachmentLine("abc") + event(time.Second, fmt.Sprintf(`,"attachments":[{"content_type":"a","hash":%q,"size":4}]`, scalar.Sum([]byte("abc")))), errcode.InputFieldInvalid},
		{"attachment record hash mismatch", fmt.Sprintf(`{"data":%q,"hash":%q,"record":"attachment","size":3}`+"\n", b64("abc"), unknown), errcode.InputFieldInvalid},
		{"unknown field", event(time.Second, `,"extra":true`), errcode.InputUnknownField},
		{"big integer", strings.Replace(event(time.Second, ""), `{"n":1000}`, `{"n":9007199254740993}`, 1), errcode.InputNumberPrecision},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := []string{event(0, ""), tc.bad, event(2*time.Second, "")}
			recs, out, err := seal(t, Config{}, true, good...)
			if !errors.Is(err, tc.code) {
				t.Fatalf("error = %v, want %s", err, tc.code)
			}
			badLine := int64(strings.Count(good[0]+tc.bad, "\n"))
			if e, _ := errcode.As(err); e.Line != badLine {
				t.Errorf("error line = %d, want %d", e.Line, badLine)
			}
			// Everything before the bad line is written, nothing for it, and
			// the stream stops there without a seal.
			if got := shape(recs); got != "G E1" {
				t.Errorf("output = %s (%s), want G E1", got, out)
			}
		})
	}
	// In-process, a rejected envelope leaves the sealer as it was.
	s, _ := New(Config{RecorderID: recorder})
	ts, _ := scalar.ParseTimestamp("2026-11-22T10:00:00Z")
	u := &evidence.Unsealed{Content: evidence.Content{EventType: scalar.MustToken("a"), ActorID: recorder, EnvironmentID: recorder, AdapterID: scalar.MustToken("a"), ClaimedAt: ts, Payload: "1"}}
	bad := *u
	bad.Attachments = []evidence.AttachmentRef{{ContentType: scalar.MustContentType("a"), Hash: scalar.Sum(nil), Size: 1}}
	bad.Data = [][]byte{nil}
	if out, err := s.Append(nil, &bad); err == nil || len(out) != 0 {
		t.Fatalf("Append(bad) = %v, %v", out, err)
	}
	out, err := s.Append(nil, u)
	if err != nil || shape(out) != "G E1" {
		t.Fatalf("after a rejected envelope: %s, %v", shape(out), err)
	}
}

func TestDeterminism(t *testing.T) {
	in, err := os.ReadFile("../../testdata/demo/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{MaxEnvelopes: 4, MaxDuration: 4 * time.Minute}
	_, a, err := seal(t, cfg, true, string(in))
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := seal(t, cfg, true, string(in))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two runs over the same input differ")
	}
}

func TestSigned(t *testing.T) {
	k1, _ := signing.Generate(nil)
	k2, _ := signing.Generate(nil)
	recs, _, err := seal(t, Config{Signers: []Signer{k1, k2}}, true, event(0, ""), event(time.Second, ""))
	if err != nil {
		t.Fatal(err)
	}
	root := &signing.TrustRoot{Keys: []signing.TrustedKey{k1.TrustedKey(), k2.TrustedKey()}, Policy: signing.Policy{Kind: signing.AllMustSign}}
	if bytes.Compare(root.Keys[0].KeyID[:], root.Keys[1].KeyID[:]) > 0 {
		root.Keys[0], root.Keys[1] = root.Keys[1], root.Keys[0]
	}
	var genesis scalar.Digest
	seals := 0
	for _, r := range recs {
		switch v := r.(type) {
		case *evidence.Genesis:
			genesis = v.GenesisHash
		case *evidence.Envelope:
			if len(v.Signatures) != 2 || bytes.Compare(v.Signatures[0].KeyID[:], v.Signatures[1].KeyID[:]) >= 0 {
				t.Errorf("signatures not one per key sorted by key id: %+v", v.Signatures)
			}
			if o := root.Check(v.ContentHash, v.Signatures); !o.Satisfied {
				t.Errorf("sequence %d: %+v", v.Sequence, o)
			}
		case *evidence.Seal:
			// The seal is signed over its checkpoint (SPEC §11.2), not its
			// head or Merkle root alone.
			seals++
			if len(v.Signatures) != 2 || bytes.Compare(v.Signatures[0].KeyID[:], v.Signatures[1].KeyID[:]) >= 0 {
				t.Errorf("seal signatures not one per key sorted by key id: %+v", v.Signatures)
			}
			if o := root.CheckMessage(checkpoint.Append(nil, genesis, v), v.Signatures); !o.Satisfied {
				t.Errorf("seal: %+v", o)
			}
			if o := root.CheckMessage(v.HeadChainHash[:], v.Signatures); len(o.Invalid) != 2 {
				t.Errorf("seal signatures verify over the head alone: %+v", o)
			}
		}
	}
	if seals != 1 {
		t.Errorf("%d seals, want 1", seals)
	}
	if _, err := New(Config{RecorderID: recorder, Signers: []Signer{k1, k1}}); !errors.Is(err, errcode.ConfigInvalid) {
		t.Errorf("same key twice: %v", err)
	}
}

func TestContinueOpenSegment(t *testing.T) {
	first, _, err := seal(t, Config{}, false, event(0, ""), event(time.Second, ""))
	if err != nil {
		t.Fatal(err)
	}
	g := first[0].(*evidence.Genesis)
	ch := evidence.NewChain(g)
	for _, r := range first[1:] {
		e := r.(*evidence.Envelope)
		ch.Append(e.ContentHash)
	}
	last := first[2].(*evidence.Envelope).ClaimedAt
	start := Start{Open: &Open{Genesis: g, Chain: ch, LastClaimedAt: last, Announce: true}}
	more, _, err := seal(t, Config{Start: start, MaxEnvelopes: 3}, false, event(2*time.Second, ""), event(3*time.Second, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := shape(more), "G E3 S:auto_count G E1"; got != want {
		t.Fatalf("continued = %s, want %s", got, want)
	}
	if !bytes.Equal(more[0].AppendJCS(nil), g.AppendJCS(nil)) {
		t.Errorf("the announced genesis is not the open segment's")
	}
	// The continuation plus the original prefix is one valid chain.
	checkChains(t, append(first, more[1:]...))

	// A continued segment already at the count limit is sealed first.
	full := evidence.NewChain(g)
	full.Count, full.Head = 5, ch.Head
	s, _ := New(Config{RecorderID: recorder, MaxEnvelopes: 5, Start: Start{Open: &Open{Genesis: g, Chain: full, LastClaimedAt: last}}})
	r := stream.NewReader(strings.NewReader(event(4*time.Second, "")), stream.Unsealed, evidence.Limits{})
	rec, _ := r.Next()
	out, err := s.Append(nil, rec.(*evidence.Unsealed))
	if err != nil || shape(out) != "S:auto_count G E1" {
		t.Errorf("full continued segment: %s, %v", shape(out), err)
	}

	// With no count set, the default is the verifier's per-segment limit:
	// the envelope that brings a continued segment to it seals it.
	full.Count = DefaultMaxEnvelopes - 1
	s, _ = New(Config{RecorderID: recorder, Start: Start{Open: &Open{Genesis: g, Chain: full, LastClaimedAt: last}}})
	if out, err = s.Append(nil, rec.(*evidence.Unsealed)); err != nil || shape(out) != "E100000 S:auto_count" {
		t.Errorf("default count: %s, %v", shape(out), err)
	}
}

// TestMaxEnvelopesCap: no Config may ask for segments larger than a
// verifier accepts (SPEC §7, §16).
func TestMaxEnvelopesCap(t *testing.T) {
	if DefaultMaxEnvelopes != bundle.DefaultLimits.EnvelopesPerSegment {
		t.Fatalf("DefaultMaxEnvelopes = %d, the verifier's limit is %d", DefaultMaxEnvelopes, bundle.DefaultLimits.EnvelopesPerSegment)
	}
	if _, err := New(Config{RecorderID: recorder, MaxEnvelopes: DefaultMaxEnvelopes}); err != nil {
		t.Errorf("MaxEnvelopes at the limit: %v", err)
	}
	_, err := New(Config{RecorderID: recorder, MaxEnvelopes: DefaultMaxEnvelopes + 1})
	if e, ok := errcode.As(err); !ok || e.Code != errcode.ConfigInvalid || e.Field != "max-envelopes" {
		t.Errorf("MaxEnvelopes above the limit: %v, want config.invalid on max-envelopes", err)
	}
}

func TestManualOpenAndSeal(t *testing.T) {
	s, _ := New(Config{RecorderID: recorder})
	if out := s.Finish(nil, true); len(out) != 0 {
		t.Errorf("Finish on empty input emitted %s", shape(out))
	}
	if _, err := s.SealNow(nil, evidence.SealManual, scalar.Timestamp{}); !errors.Is(err, errcode.SegmentNoneOpen) {
		t.Errorf("SealNow with nothing open: %v", err)
	}
	now, _ := scalar.ParseTimestamp("2026-11-22T12:00:00Z")
	id, _ := scalar.NewRandomUUID7()
	out, err := s.OpenNow(nil, id, now)
	if err != nil || shape(out) != "G" {
		t.Fatalf("OpenNow: %s, %v", shape(out), err)
	}
	opened := out[0].(*evidence.Genesis)
	if _, err := s.OpenNow(nil, id, now); !errors.Is(err, errcode.SegmentAlreadyOpen) {
		t.Errorf("second OpenNow: %v", err)
	}
	out, err = s.SealNow(nil, evidence.SealManual, now.Add(time.Hour))
	if err != nil || shape(out) != "S:manual" {
		t.Fatalf("SealNow: %s, %v", shape(out), err)
	}
	sl := out[0].(*evidence.Seal)
	if sl.EnvelopeCount != 0 || sl.HeadChainHash != opened.GenesisHash || sl.MerkleRoot != evidence.MerkleRoot(nil) || sl.SealedAt != now.Add(time.Hour) {
		t.Errorf("empty seal = %+v", sl)
	}
}

func TestConfigRejects(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, errcode.ConfigInvalid) {
		t.Errorf("no recorder: %v", err)
	}
	if _, err := New(Config{RecorderID: recorder, MaxDuration: -time.Second}); !errors.Is(err, errcode.ConfigInvalid) {
		t.Errorf("negative duration: %v", err)
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, _ := New(Config{RecorderID: recorder})
	_, err := Stream(ctx, s, strings.NewReader(event(0, "")), io.Discard, StreamOptions{})
	if !errors.Is(err, errcode.IOFailed) {
		t.Errorf("cancelled context: %v", err)
	}
}

func ExampleSealer() {
	s, _ := New(Config{RecorderID: scalar.MustLabel("recorder-1")})
	in := `{"event_type":"tool.call","actor_id":"agent:alpha","environment_id":"prod","adapter_id":"example","claimed_at":"2026-11-22T10:00:00Z","payload":{"tool":"search"}}` + "\n"
	r := stream.NewReader(strings.NewReader(in), stream.Unsealed, evidence.Limits{})
	rec, _ := r.Next()
	out, _ := s.Append(nil, rec.(*evidence.Unsealed))
	out = s.Finish(out, true)
	for _, rec := range out {
		fmt.Println(rec.Kind())
	}
	e := out[1].(*evidence.Envelope)
	fmt.Println(e.Sequence, e.ChainHash == evidence.ChainNext(out[0].(*evidence.Genesis).GenesisHash, e.ContentHash))
	// Output:
	// genesis
	// envelope
	// seal
	// 1 true
}

// TestLifecycleEventsReserved: the key lifecycle's event types are
// refused in a sealer's input unless Config.LifecycleEvents (SPEC §11.1).
func TestLifecycleEventsReserved(t *testing.T) {
	for _, et := range []string{"system.adapter.key_enrolled", "system.adapter.key_rotated", "system.adapter.key_rotated.break_glass"} {
		u := &evidence.Unsealed{Content: evidence.Content{EventType: scalar.MustToken(et), ActorID: scalar.MustLabel("a"),
			EnvironmentID: scalar.MustLabel("e"), AdapterID: scalar.MustToken("arxi"), Payload: "null"}}
		s, err := New(Config{RecorderID: scalar.MustLabel("r")})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Append(nil, u)
		if e, ok := errcode.As(err); !ok || e.Code != errcode.InputFieldInvalid || e.Field != "event_type" || len(out) != 0 {
			t.Errorf("Append(%s) = %d records, %v; want input.field_invalid on event_type", et, len(out), err)
		}
		s, _ = New(Config{RecorderID: scalar.MustLabel("r"), LifecycleEvents: true})
		if _, err := s.Append(nil, u); err != nil {
			t.Errorf("Append(%s) with LifecycleEvents = %v", et, err)
		}
	}
}
