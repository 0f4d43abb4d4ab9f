package postgres

import (
	"bytes"
	"fmt"
	"slices"
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
	var want, got []string
	for _, l := range storetest.Lines(in) {
		if bytes.Contains([]byte(l), []byte(`"environment_id":"env-0"`)) {
			want = append(want, l)
		}
	}
	r, err := OpenReader(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sn, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	cursor := ""
	for {
		p, err := sn.Query(ctx, store.Filter{EnvironmentID: scalar.MustLabel("env-0")}, cursor, 700)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			got = append(got, string(it.Line)+"\n")
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(got) != n/2 || len(want) != n/2 || !slices.Equal(got, want) {
		t.Errorf("query of env-0: %d envelopes, want %d", len(got), len(want))
	}
	if _, err := sn.Check(ctx, store.CheckOptions{}); err != nil {
		t.Errorf("Check: %v", err)
	}
}
