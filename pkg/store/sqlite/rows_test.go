package sqlite

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRowsKept checks what a Kept row from Envelopes promises: the rows,
// kept past their callbacks as they are, still hold their values once
// later rows, and another walk, have been read.
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
			if !r.Kept {
				t.Fatalf("envelopes row %d is not Kept", r.Position)
			}
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

// TestWalkFirstBadRow checks that a walk over a segment of several batches
// of rows reports its first bad row: a row that does not read (a column of
// the wrong type, found while fetching, ahead of the walk) after one that
// does not check (a content hash, found later, by the checks) is reported
// after it, and alone it is reported once the rows before it are walked.
func TestWalkFirstBadRow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt []storetest.Corruption
		want    string
	}{
		{"fetch", []storetest.Corruption{{Table: "envelopes", Key: uint64(300), Column: "payload", Value: int64(7)}}, "envelopes row 300"},
		{"check before fetch", []storetest.Corruption{
			{Table: "envelopes", Key: uint64(300), Column: "payload", Value: int64(7)},
			{Table: "envelopes", Key: uint64(200), Column: "content_hash", Value: make([]byte, 32)},
		}, "envelopes row 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "arxi.db")
			db, err := Open(ctx, Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			storetest.Fill(t, db, storetest.Seal(t, sealing.Config{}, storetest.Events(0, 400), true))
			db.Close()
			for _, c := range tc.corrupt {
				corrupt(t, path, c)
			}
			s, err := OpenReader(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.InSnapshot(ctx, func(sn *store.Snapshot) error {
				return sn.WriteStream(ctx, io.Discard, store.Filter{})
			})
			if errcode.CodeOf(err) != errcode.StoreCorrupt || !strings.Contains(err.Error(), tc.want+":") {
				t.Errorf("WriteStream = %v, want store.corrupt naming %s", err, tc.want)
			}
		})
	}
}
