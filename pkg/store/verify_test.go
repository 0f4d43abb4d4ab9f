package store

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
)

// sealedEnvelope returns one sealed envelope and its segment id.
func sealedEnvelope(t testing.TB) *evidence.Envelope {
	s, _ := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("r")})
	var out bytes.Buffer
	in := `{"event_type":"tool.call","actor_id":"a","environment_id":"e","adapter_id":"x","trace_id":"t","claimed_at":"2026-11-22T10:00:00Z","payload":{"q":[1,2,{"k":"v"}]},"attachments":[{"content_type":"text/plain","data":"aGk="}]}` + "\n"
	if _, err := sealing.Stream(context.Background(), s, strings.NewReader(in), &out, sealing.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, `"record":"envelope"`) {
			rec, err := evidence.NewDecoder(evidence.DefaultLimits).Sealed([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			return rec.(*evidence.Envelope)
		}
	}
	t.Fatal("no envelope")
	return nil
}

// FuzzCheckEnvelopeRow: whatever a row's values are, checking it never
// panics, fails only with store.corrupt, and accepts only the values of
// the envelope whose content hash the row holds, from which it writes that
// envelope's line.
func FuzzCheckEnvelopeRow(f *testing.F) {
	e := sealedEnvelope(f)
	good := e.AppendJCS(nil)
	var row EnvelopeRow
	row.Set(e, 1, 1, nil)
	f.Add(row.Payload, row.EventType, row.TraceID, row.Attachments, row.Signatures)
	f.Add([]byte(`{"q":[1,2,{"k":"v"}] }`), row.EventType, row.TraceID, row.Attachments, row.Signatures)
	f.Add([]byte(`{"q":[1,2,{"k":"v"}]}`), "Tool.call", "", []byte(`[]`), []byte{1})
	f.Add([]byte(`[`), "", "t\n", []byte(`[{}]`), make([]byte, 96))
	seg := segmentInfo{order: 1, id: e.SegmentID, first: 1, last: 1}
	f.Fuzz(func(t *testing.T, payload []byte, eventType, trace string, atts, sigs []byte) {
		r := row
		r.Payload, r.EventType, r.TraceID, r.Attachments, r.Signatures = payload, eventType, trace, atts, sigs
		c := newChecker(evidence.DefaultLimits)
		got, line, err := c.envelope(&r, seg)
		if err != nil {
			if !strings.Contains(err.Error(), string(errcode.StoreCorrupt)) {
				t.Fatalf("error %v is not store.corrupt", err)
			}
			return
		}
		if !bytes.Equal(line, good) || !bytes.Equal(got.AppendJCS(nil), good) {
			t.Fatalf("accepted values that are not the envelope's: %q", line)
		}
	})
}
