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
// query columns, values a typed column can still hold wrongly, and the
// postings. Check (arxi-append doctor) and the reads report store.corrupt
// naming the row; other logs are untouched.
func TestTamperedColumns(t *testing.T) {
	t.Parallel()
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 15}, storetest.Events(0, 40), true)
	const (
		envelopes = "UPDATE arxi.envelopes SET "
		// One transaction: one postings row per label. sess-1 is at
		// positions 2, 8, 14, 20, 26, 32 and 38.
		sess1     = " WHERE log_id = $1 AND kind = 6 AND value = 'sess-1'"
		sess1Name = `postings row (session_id "sess-1", last 38)`
	)
	for _, tc := range []struct {
		name, sql, row string
	}{
		{"claimed time moved", envelopes + "claimed_at = claimed_at + interval '1 hour' WHERE log_id = $1 AND position = 17", "envelopes row 17"},
		{"claimed nanoseconds", envelopes + "claimed_ns = 1 WHERE log_id = $1 AND position = 18", "envelopes row 18"},
		{"claimed nanoseconds out of range", envelopes + "claimed_ns = 5000 WHERE log_id = $1 AND position = 19", "envelopes row 19"},
		{"label renamed", envelopes + "trace_id = 'trace-9' WHERE log_id = $1 AND trace_id = 'trace-2'", "envelopes row 3"},
		{"label removed", envelopes + "session_id = NULL WHERE log_id = $1 AND position = 21", "envelopes row 21"},
		{"short hash", envelopes + "content_hash = '\\x00' WHERE log_id = $1 AND position = 22", "envelopes row 22"},
		{"payload of another envelope", envelopes + "payload = (SELECT payload FROM arxi.envelopes e WHERE e.log_id = envelopes.log_id AND e.position = 1) WHERE log_id = $1 AND position = 2", "envelopes row 2"},
		{"postings omit a position", "UPDATE arxi.postings SET positions = positions[2:]" + sess1, sess1Name + ": the postings omit envelopes row 2"},
		{"postings add a position", "UPDATE arxi.postings SET positions = array_prepend(1::bigint, positions)" + sess1, sess1Name + " lists envelopes row 1, whose line does not carry"},
		{"postings end early", "UPDATE arxi.postings SET positions = positions[1:6], last = 32" + sess1, `postings of session_id "sess-1": no postings row holds envelopes row 38`},
		{"postings list a position after the rows", "UPDATE arxi.postings SET positions = array_append(positions, 39::bigint), last = 39" + sess1, `postings row (session_id "sess-1", last 39) lists envelopes row 39`},
		{"postings out of order", "UPDATE arxi.postings SET positions = ARRAY[8, 2]::bigint[], last = 2" + sess1, `postings row (session_id "sess-1", last 2): column positions: 2 after 8`},
		{"postings row added", "INSERT INTO arxi.postings (log_id, kind, value, last, positions) VALUES ($1, 5, 'trace-9', 12, '{12}')", "the index lists rows that are not there"},
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
			if err := pgtest.Exec(database(t), tc.sql, id); err != nil {
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
