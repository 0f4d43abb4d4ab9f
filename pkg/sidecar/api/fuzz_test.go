package api

import (
	"bytes"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/fuzzinput"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/store/storetest"
)

// The request decoders' fuzz targets. Each checks that the decoder never
// panics, that every error it returns carries a registered code, and what
// it accepts round-trips.

var fuzzLimits = evidence.DefaultLimits

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if _, ok := errcode.As(err); !ok || !errcode.Known(errcode.CodeOf(err)) {
		t.Fatalf("error without a registered code: %v", err)
	}
}

func seeds(f *testing.F, extra ...string) {
	for i := range 8 {
		f.Add([]byte(storetest.Event(i)))
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// FuzzDecodeUnsealed: an accepted envelope re-encodes to a record that
// decodes to the same bytes.
func FuzzDecodeUnsealed(f *testing.F) {
	seeds(f, `{}`, `[]`, `{"event_type":"a","actor_id":"b","environment_id":"c","adapter_id":"d","claimed_at":"2026-01-01T00:00:00Z","payload":null}`)
	d := evidence.NewDecoder(fuzzLimits)
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeUnsealed(d, body)
		checkErr(t, err)
		if err != nil {
			return
		}
		enc := u.AppendJCS(nil)
		u2, err := decodeUnsealed(d, enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if !bytes.Equal(u2.AppendJCS(nil), enc) {
			t.Fatalf("round trip changed %s", enc)
		}
	})
}

// FuzzDecodeWithAttachments: an accepted body gives the envelope
// POST /v1/envelopes takes with the attachments inline.
func FuzzDecodeWithAttachments(f *testing.F) {
	for i := range 4 {
		f.Add([]byte(`{"envelope":` + strings.TrimSpace(storetest.Event(i)) + `,"attachments":[{"content_type":"text/plain","data":"aGk="}]}`))
	}
	f.Add([]byte(`{"envelope":{},"attachments":[]}`))
	f.Add([]byte(`{"attachments":[{"data":"","content_type":1}]}`))
	d := evidence.NewDecoder(fuzzLimits)
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeWithAttachments(d, body)
		checkErr(t, err)
		if err != nil {
			return
		}
		if _, err := decodeUnsealed(d, u.AppendJCS(nil)); err != nil {
			t.Fatalf("the merged envelope does not decode: %v", err)
		}
	})
}

// FuzzDecodeBatch: an accepted batch holds an envelope, and each error
// names a line. Bodies are edits of batches (fuzzinput.Edit) and
// arbitrary bytes.
func FuzzDecodeBatch(f *testing.F) {
	bases := [][]byte{[]byte(storetest.Events(0, 9)), []byte(storetest.Event(0) + "\n"),
		[]byte(`{"data":"aGk=","hash":"sha256:8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4","record":"attachment","size":2}` + "\n" + storetest.Event(1))}
	for i := range bases {
		f.Add([]byte{}, uint8(i), uint16(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		body := fuzzinput.Edit(bases, base, at, cut, patch)
		recs, lines, err := decodeBatch(body, fuzzLimits)
		checkErr(t, err)
		if err != nil {
			return
		}
		if len(recs) == 0 || len(recs) != len(lines) || recs[len(recs)-1].Kind() != evidence.KindUnsealed {
			t.Fatalf("%d records, %d lines", len(recs), len(lines))
		}
	})
}

// FuzzDecodeQuery: an accepted query's filter passes its own check and
// its limit is in range.
func FuzzDecodeQuery(f *testing.F) {
	for _, s := range []string{`{}`, `{"filter":{"trace_id":"t","event_types":["a.b"]},"limit":5}`, `{"filter":{"segment_id":"019a0000-0000-7000-8000-000000000000","after_sequence":3}}`,
		`{"filter":{"since":"2026-01-01T00:00:00Z","until":"2025-01-01T00:00:00Z"}}`, `{"cursor":"AQ"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		flt, _, limit, err := decodeQuery(body)
		checkErr(t, err)
		if err != nil {
			return
		}
		if flt.Check() != nil || limit < 1 || limit > 10000 {
			t.Fatalf("accepted filter %+v, limit %d", flt, limit)
		}
	})
}

// FuzzDecodeBuild: an accepted selector is normalised: its JSON decodes
// to itself.
func FuzzDecodeBuild(f *testing.F) {
	for _, s := range []string{`{"selector":{"all":true}}`, `{"selector":{"trace_ids":["b","a"]}}`, `{"selector":{"since":"2026-01-01T00:00:00Z"}}`, `{"selector":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sel, err := decodeBuild(body)
		checkErr(t, err)
		if err != nil {
			return
		}
		again, err := decodeBuild([]byte(`{"selector":` + sel.String() + `}`))
		if err != nil || again.String() != sel.String() {
			t.Fatalf("selector %s decodes to %s, %v", sel.String(), again.String(), err)
		}
	})
}
