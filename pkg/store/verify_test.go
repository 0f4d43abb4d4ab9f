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
			rec, err := evidence.Decode(l, evidence.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			return rec.(*evidence.Envelope)
		}
	}
	t.Fatal("no envelope")
	return nil
}

func rowOf(e *evidence.Envelope, line []byte) *EnvelopeRow {
	return &EnvelopeRow{Position: e.Sequence, Segment: 1, Sequence: e.Sequence, EnvelopeID: e.EnvelopeID,
		ContentHash: e.ContentHash, ChainHash: e.ChainHash, EventType: e.EventType.String(), ActorID: e.ActorID.String(),
		EnvironmentID: e.EnvironmentID.String(), AdapterID: e.AdapterID.String(), TraceID: e.TraceID.String(),
		SessionID: e.SessionID.String(), ClaimedAt: e.ClaimedAt, Line: line}
}

// FuzzCheckEnvelopeRow: whatever bytes a row holds, checking it never
// panics, fails only with store.corrupt, and accepts only the exact line of
// the envelope its columns describe.
func FuzzCheckEnvelopeRow(f *testing.F) {
	e := sealedEnvelope(f)
	good := e.AppendJCS(nil)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"record":"envelope"}`))
	f.Add(bytes.Replace(good, []byte(`"q"`), []byte(`"Q"`), 1))
	f.Add([]byte(`[`))
	seg := segmentInfo{order: 1, id: e.SegmentID, first: 1}
	f.Fuzz(func(t *testing.T, line []byte) {
		c := newChecker(evidence.DefaultLimits)
		got, err := c.envelope(rowOf(e, line), seg)
		if err != nil {
			if !strings.Contains(err.Error(), string(errcode.StoreCorrupt)) {
				t.Fatalf("error %v is not store.corrupt", err)
			}
			return
		}
		if !bytes.Equal(line, good) || !bytes.Equal(got.AppendJCS(nil), line) {
			t.Fatalf("accepted a line that is not the envelope's: %q", line)
		}
	})
}
