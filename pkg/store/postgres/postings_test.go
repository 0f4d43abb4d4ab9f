package postgres

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestPostingsRows: a batch's label with more than postingsMax positions
// gets several postings rows, each stored as it is (no compression, no
// out-of-line storage); queries page through them in order, and the
// check rebuilds them.
func TestPostingsRows(t *testing.T) {
	const n = 2500 // env-0 and env-1 alternate: 1250 positions each
	url := newLog(t)
	w := openWriter(t, url)
	s, err := store.Open(ctx, w, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Appender(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, n), false)
	if _, err := store.AppendStream(ctx, a, bytes.NewReader(in), store.AppendOptions{Batch: n}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	log := w.log
	w.Close()
	q := "SELECT count(*)::text || ' ' || max(cardinality(positions))::text || ' ' || max(pg_column_size(positions))::text FROM arxi.postings WHERE log_id = %d AND kind = 3 AND value = 'env-0'"
	// 24 bytes of array header and 8 a position: the array as it is.
	if got, want := value(t, database(t), fmt.Sprintf(q, log)), "2 960 7704"; got != want {
		t.Errorf("rows, most positions and bytes of a row of env-0: %s, want %s", got, want)
	}
	var want strings.Builder
	for _, l := range storetest.Lines(in) {
		if strings.Contains(l, `"environment_id":"env-0"`) {
			want.WriteString(l)
		}
	}
	got := queryLines(t, url, store.Filter{EnvironmentID: scalar.MustLabel("env-0")}, 700)
	if n := strings.Count(got, "\n"); n != 1250 || got != want.String() {
		t.Errorf("query of env-0: %d envelopes, want the 1250 of the stream", n)
	}
	if err := check(url); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestPostingsInTransaction: a label query in a write transaction sees
// the transaction's own rows (their postings are written first), and the
// rows written after it get postings rows of their own at commit.
func TestPostingsInTransaction(t *testing.T) {
	w := openWriter(t, newLog(t))
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	at, _ := scalar.ParseTimestamp("2026-11-22T10:00:00Z")
	add := func(from, to int) {
		for p := from; p <= to; p++ {
			row := &store.EnvelopeRow{Position: uint64(p), Segment: 1, EnvelopeID: scalar.UUID{byte(p)}, EventType: fmt.Sprintf("e%d", p%2),
				ActorID: "a", EnvironmentID: "n", AdapterID: "d", ClaimedAt: at, Payload: []byte("{}")}
			if err := tx.AddEnvelope(ctx, row); err != nil {
				t.Fatal(err)
			}
		}
	}
	positions := func(v store.View) string {
		var b strings.Builder
		err := v.Envelopes(ctx, store.Query{EventTypes: []string{"e1"}, KeysOnly: true}, func(r *store.EnvelopeRow) error {
			fmt.Fprintf(&b, "%d ", r.Position)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	add(1, 4)
	if got := positions(tx); got != "1 3 " {
		t.Errorf("in the transaction: e1 at %s, want 1 3", got)
	}
	add(5, 7)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	v, err := w.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got := positions(v); got != "1 3 5 7 " {
		t.Errorf("committed: e1 at %s, want 1 3 5 7", got)
	}
	q := fmt.Sprintf("SELECT string_agg(last::text, ' ' ORDER BY last) FROM arxi.postings WHERE log_id = %d AND kind = 1 AND value = 'e1'", w.log)
	if got := value(t, database(t), q); got != "3 7" {
		t.Errorf("postings rows of e1 end at %s, want 3 7", got)
	}
}
