package sqlite

import (
	"testing"
	"unsafe"

	"arxi.dev/arxi/pkg/store"
)

// TestRowBatchKept: a row held back keeps its own copy of its strings and
// payload, whose memory the caller may reuse after AddEnvelope, unless
// the row is Kept; attachments and signatures are always copied.
func TestRowBatchKept(t *testing.T) {
	for _, kept := range []bool{false, true} {
		payload, sigs := []byte(`{"a":1}`), make([]byte, 96)
		row := store.EnvelopeRow{Position: 1, EventType: "tool.call", ActorID: "agent", EnvironmentID: "prod", AdapterID: "mcp",
			Payload: payload, Signatures: sigs, Kept: kept}
		var b rowBatch
		var ps postings
		if err := b.add(nil, &row, &ps); err != nil {
			t.Fatal(err)
		}
		held := &b.rows[0]
		if got := unsafe.SliceData(held.Payload) == unsafe.SliceData(payload); got != kept {
			t.Errorf("Kept %v: payload shared %v, want %v", kept, got, kept)
		}
		if got := unsafe.StringData(held.EventType) == unsafe.StringData(row.EventType); got != kept {
			t.Errorf("Kept %v: event type shared %v, want %v", kept, got, kept)
		}
		if unsafe.SliceData(held.Signatures) == unsafe.SliceData(sigs) {
			t.Errorf("Kept %v: signatures shared, want a copy", kept)
		}
		payload[0], sigs[0] = 'x', 1
		if !kept && (string(held.Payload) != `{"a":1}` || held.Signatures[0] != 0) {
			t.Errorf("Kept %v: the held row changed with the caller's memory", kept)
		}
	}
}

// TestLabelMemo: the memo's keys are labelID's, whichever of its entries
// a value hits or misses.
func TestLabelMemo(t *testing.T) {
	var m labelMemo
	for i, val := range []string{"a", "a", "b", "a", "b", "c", "a", "c", "c", "b"} {
		for kind := kindEventType; kind <= kindSession; kind++ {
			if got, want := m.id(kind, val), labelID(kind, val); got != want {
				t.Fatalf("value %d: id(%d, %q) = %d, want %d", i, kind, val, got, want)
			}
		}
	}
}
