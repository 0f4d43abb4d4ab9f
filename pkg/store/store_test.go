package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
)

func TestCursor(t *testing.T) {
	for _, c := range []store.Cursor{{Position: 1}, {Position: 1 << 62, Filter: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}, {Position: ^uint64(0), Filter: [8]byte{0xff}}} {
		s := c.String()
		got, err := store.ParseCursor(s)
		if err != nil || got != c {
			t.Errorf("ParseCursor(%q) = %+v, %v; want %+v", s, got, err, c)
		}
		if len(s) != 23 || strings.ContainsAny(s, "+/=") {
			t.Errorf("cursor %q is not 23 characters of unpadded base64url", s)
		}
	}
	valid := store.Cursor{Position: 7}.String()
	for _, s := range []string{"", "x", valid + "A", valid[:22], strings.Repeat("A", 23), // version 0
		store.Cursor{}.String(),                   // position 0
		valid[:22] + "B",                          // non-zero padding bits
		strings.Replace(valid, valid[:1], "+", 1), // standard, not URL, alphabet
	} {
		if _, err := store.ParseCursor(s); !errors.Is(err, errcode.UsageInvalid) {
			t.Errorf("ParseCursor(%q) = %v, want usage.invalid", s, err)
		}
	}
}

// FuzzParseCursor: parsing never panics, and a cursor that parses has
// exactly one text form.
func FuzzParseCursor(f *testing.F) {
	f.Add(store.Cursor{Position: 42, Filter: [8]byte{9}}.String())
	f.Add("AQAAAAAAAAAAAAAAAAAAAAE")
	f.Add("")
	f.Add("!!!!!!!!!!!!!!!!!!!!!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, errcode.UsageInvalid) {
				t.Fatalf("ParseCursor(%q): error %v is not usage.invalid", s, err)
			}
			return
		}
		if got := c.String(); got != s {
			t.Fatalf("ParseCursor(%q).String() = %q", s, got)
		}
	})
}

func TestReceiptLine(t *testing.T) {
	id, _ := scalar.ParseUUID("01a202b2-c500-7fca-84b6-746b5f17ba11")
	r := store.Receipt{SegmentID: id, Sequence: 12, EnvelopeID: id, ChainHash: scalar.Digest{0xab}}
	want := `{"chain_hash":"sha256:ab00000000000000000000000000000000000000000000000000000000000000","envelope_id":"01a202b2-c500-7fca-84b6-746b5f17ba11","record":"receipt","segment_id":"01a202b2-c500-7fca-84b6-746b5f17ba11","sequence":12}`
	if got := string(r.AppendJCS(nil)); got != want {
		t.Errorf("receipt = %s\nwant %s", got, want)
	}
}

const events = `{"event_type":"tool.call","actor_id":"agent:alpha","environment_id":"prod","adapter_id":"example","trace_id":"trace-1","claimed_at":"2026-11-22T10:00:00Z","payload":{"tool":"search"}}
{"event_type":"tool.result","actor_id":"agent:alpha","environment_id":"prod","adapter_id":"example","trace_id":"trace-1","claimed_at":"2026-11-22T10:00:01Z","payload":{"ok":true}}
{"event_type":"tool.call","actor_id":"agent:beta","environment_id":"prod","adapter_id":"example","trace_id":"trace-2","claimed_at":"2026-11-22T10:00:02Z","payload":{"tool":"fetch"}}
`

// sealed returns events sealed by recorder-1, as arxi-seal would.
func sealed() []byte {
	s, _ := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("recorder-1")})
	var out bytes.Buffer
	sealing.Stream(context.Background(), s, strings.NewReader(events), &out, sealing.StreamOptions{SealAtEnd: true})
	return out.Bytes()
}

// Append a sealed stream to a store and read a trace back.
func ExampleAppendStream() {
	ctx := context.Background()
	s, _ := store.Open(ctx, memory.New(), store.Config{})
	a, _ := s.Appender(ctx)
	stats, err := store.AppendStream(ctx, a, bytes.NewReader(sealed()), store.AppendOptions{
		Receipts: func(rs []store.Receipt) error {
			for _, r := range rs {
				fmt.Println("receipt", r.Sequence)
			}
			return nil
		},
	})
	fmt.Println(stats.Envelopes, "envelopes, committed through line", stats.Line, err)

	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	page, _ := sn.Query(ctx, store.Filter{TraceID: scalar.MustLabel("trace-1")}, "", 0)
	for _, it := range page.Items {
		fmt.Println(it.Envelope.Sequence, it.Envelope.EventType, it.Envelope.Payload)
	}
	fmt.Printf("next cursor %q\n", page.Next)
	// Output:
	// receipt 1
	// receipt 2
	// receipt 3
	// 3 envelopes, committed through line 5 <nil>
	// 1 tool.call {"tool":"search"}
	// 2 tool.result {"ok":true}
	// next cursor ""
}

// TestAppendStreamReadAhead runs AppendStream with one CPU (direct reads)
// and with two (read-ahead): the same receipts, the same error at the same
// line, the same committed prefix.
func TestAppendStreamReadAhead(t *testing.T) {
	in := sealed()
	lines := strings.SplitAfter(string(in), "\n")
	lines[2] = strings.Replace(lines[2], `"ok":true`, `"ok":false`, 1) // envelope 2's content
	broken := strings.Join(lines, "")
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var results []string
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		for _, input := range []string{string(in), broken} {
			s, _ := store.Open(context.Background(), memory.New(), store.Config{})
			a, _ := s.Appender(context.Background())
			var rs []store.Receipt
			st, err := store.AppendStream(context.Background(), a, strings.NewReader(input), store.AppendOptions{Batch: 1,
				Receipts: func(r []store.Receipt) error { rs = append(rs, r...); return nil }})
			results = append(results, fmt.Sprintf("%d receipts, line %d, %d envelopes, %v", len(rs), st.Line, st.Envelopes, err))
		}
	}
	if results[0] != results[2] || results[1] != results[3] {
		t.Errorf("one CPU: %q\ntwo CPUs: %q", results[:2], results[2:])
	}
	if !strings.Contains(results[1], "line 3: chain.hash_mismatch") || !strings.HasPrefix(results[1], "1 receipts, line 2,") {
		t.Errorf("broken stream: %s", results[1])
	}
}

// TestCommitNewSegmentSameCount: a batch that seals the open segment and
// opens the next one, whose envelopes then number as many as the sealed
// one's did at the last commit, stores the new segment's count and head
// (the commit once compared only the counts): the store reads back every
// envelope and verifies.
func TestCommitNewSegmentSameCount(t *testing.T) {
	ctx := context.Background()
	recs := storetest.Records(t, storetest.Seal(t, sealing.Config{MaxEnvelopes: 2}, storetest.Events(0, 3), false))
	// genesis, e0, e1, seal, genesis, e2
	if len(recs) != 6 {
		t.Fatalf("%d records", len(recs))
	}
	b := memory.New()
	s, err := store.Open(ctx, b, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Appender(ctx)
	for i, rec := range recs {
		if err := a.Add(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if i == 1 || i == 5 { // the first segment holds 1 envelope, then the second does
			if _, err := a.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.Close()
	s, err = store.Open(ctx, b, store.Config{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	h, err := s.Head(ctx, true)
	if err != nil || h.Chain == nil || h.Chain.Count != 1 {
		t.Fatalf("head %+v, %v: want the second segment with 1 envelope", h, err)
	}
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil {
		t.Fatal(err)
	}
	if n := len(storetest.Envelopes(t, out.Bytes())); n != 3 {
		t.Errorf("the store reads back %d envelopes, want 3", n)
	}
}
