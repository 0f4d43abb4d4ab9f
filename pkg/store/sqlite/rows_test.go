package sqlite

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRowsKept checks what KeepsRows promises: the rows Envelopes hands
// out, kept past their callbacks as they are, still hold their values
// once later rows, and another walk, have been read.
func TestRowsKept(t *testing.T) {
	db, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "arxi.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.Fill(t, db, storetest.Seal(t, sealing.Config{}, storetest.Events(0, 300), true))
	v, err := db.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var kept, copies []store.EnvelopeRow
	walk := func(keep bool) {
		err := v.Envelopes(ctx, store.Query{}, func(r *store.EnvelopeRow) error {
			if keep {
				kept = append(kept, *r)
				copies = append(copies, deepCopy(r))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	walk(true)
	walk(false)
	if len(kept) != 300 {
		t.Fatalf("read %d rows, want 300", len(kept))
	}
	if diff := cmp.Diff(copies, kept, cmpopts.EquateComparable(scalar.Timestamp{})); diff != "" {
		t.Errorf("kept rows changed after their callbacks (-copied +kept):\n%s", diff)
	}
}

func deepCopy(r *store.EnvelopeRow) store.EnvelopeRow {
	c := *r
	for _, s := range []*string{&c.EventType, &c.ActorID, &c.EnvironmentID, &c.AdapterID, &c.TraceID, &c.SessionID} {
		*s = strings.Clone(*s)
	}
	c.Payload, c.Attachments, c.Signatures = bytes.Clone(r.Payload), bytes.Clone(r.Attachments), bytes.Clone(r.Signatures)
	return c
}
