package postgres

import (
	"errors"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestTamperedColumns edits rows with SQL behind the store's back: the
// query columns (PostgreSQL's indexes are B-trees over them) and values a
// typed column can still hold wrongly. Check (arxi-append doctor) and the
// reads report store.corrupt naming the row; other logs are untouched.
func TestTamperedColumns(t *testing.T) {
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 15}, storetest.Events(0, 40), true)
	for _, tc := range []struct {
		name, set, where, row string
	}{
		{"claimed time moved", "claimed_at = claimed_at + interval '1 hour'", "position = 17", "envelopes row 17"},
		{"claimed nanoseconds", "claimed_ns = 1", "position = 18", "envelopes row 18"},
		{"claimed nanoseconds out of range", "claimed_ns = 5000", "position = 19", "envelopes row 19"},
		{"label renamed", "trace_id = 'trace-9'", "trace_id = 'trace-2'", "envelopes row 3"},
		{"label removed", "session_id = NULL", "position = 21", "envelopes row 21"},
		{"short hash", "content_hash = '\\x00'", "position = 22", "envelopes row 22"},
		{"payload of another envelope", "payload = (SELECT payload FROM arxi.envelopes e WHERE e.log_id = envelopes.log_id AND e.position = 1)", "position = 2", "envelopes row 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := newLog(t)
			other := newLog(t)
			for _, u := range []string{url, other} {
				db := openWriter(t, u)
				storetest.Fill(t, db, in)
				db.Close()
			}
			db := openWriter(t, url)
			id := db.log
			db.Close()
			if err := pgtest.Exec(database(t), "UPDATE arxi.envelopes SET "+tc.set+" WHERE log_id = $1 AND "+tc.where, id); err != nil {
				t.Fatal(err)
			}
			err := check(url)
			if !errors.Is(err, errcode.StoreCorrupt) || !strings.Contains(err.Error(), tc.row) {
				t.Errorf("Check = %v, want store.corrupt naming %s", err, tc.row)
			}
			if err := check(other); err != nil {
				t.Errorf("the other log: %v", err)
			}
		})
	}
}

func check(url string) error {
	s, err := OpenReader(ctx, url)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.InSnapshot(ctx, func(sn *store.Snapshot) error {
		_, err := sn.Check(ctx, store.CheckOptions{})
		return err
	})
}
