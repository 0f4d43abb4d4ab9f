package postgres

import (
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestTamperedIndexes edits, behind the store's back, the postings and
// the envelope columns that the label and time indexes are built over,
// and holds every read path to SPEC §8: store.corrupt, or exactly what
// the untampered log returns (storetest.CheckTampered).
func TestTamperedIndexes(t *testing.T) {
	t.Parallel()
	fill := func(t *testing.T) (string, int32) {
		url := newLog(t)
		db := openWriter(t, url)
		defer db.Close()
		storetest.FillTamper(t, db)
		return url, db.log
	}
	read := func(t *testing.T, url string) *storetest.Reads {
		s, err := OpenReader(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return storetest.Read(t, s)
	}
	url, _ := fill(t)
	want := read(t, url)
	const (
		envelopes = "UPDATE arxi.envelopes SET "
		// sess-1 is at positions 2, 8, 14, 20, 26, 32 and 38: postings
		// rows (last 8: 2, 8), (last 20: 14, 20), (last 26: 26), (last 38:
		// 32, 38).
		sess1 = " WHERE log_id = $1 AND kind = 6 AND value = 'sess-1' AND last = 20"
	)
	for _, tc := range []struct{ name, sql string }{
		// Segment 2 holds positions 16-30; its batches end at 20 and 30.
		{"session labels of one segment deleted", envelopes + "session_id = NULL WHERE log_id = $1 AND position BETWEEN 16 AND 30"},
		{"trace labels of one segment renamed", envelopes + "trace_id = 'trace-9' WHERE log_id = $1 AND position BETWEEN 16 AND 30 AND trace_id IS NOT NULL"},
		{"claimed time edited", envelopes + "claimed_at = claimed_at + interval '1 hour' WHERE log_id = $1 AND position = 17"},
		{"claimed time edited back", envelopes + "claimed_at = claimed_at - interval '1 hour' WHERE log_id = $1 AND position = 22"},
		{"claimed nanoseconds edited", envelopes + "claimed_ns = 7 WHERE log_id = $1 AND position = 18"},
		{"label renamed", envelopes + "trace_id = 'trace-9' WHERE log_id = $1 AND trace_id = 'trace-2'"},
		{"one position moved to another session", envelopes + "session_id = 'sess-4' WHERE log_id = $1 AND position = 20"},
		{"event type of one row", envelopes + "event_type = 'tool.result' WHERE log_id = $1 AND position = 21"},
		{"a run of times shifted", envelopes + "claimed_at = claimed_at + interval '1 day' WHERE log_id = $1 AND position BETWEEN 11 AND 20"},
		{"postings of one segment deleted", "DELETE FROM arxi.postings WHERE log_id = $1 AND last BETWEEN 16 AND 30"},
		{"session postings of one segment deleted", "DELETE FROM arxi.postings WHERE log_id = $1 AND kind = 6 AND value = 'sess-1' AND last BETWEEN 16 AND 30"},
		{"label renamed in the postings", "UPDATE arxi.postings SET value = 'trace-9' WHERE log_id = $1 AND kind = 5 AND value = 'trace-2'"},
		{"postings moved to another kind", "UPDATE arxi.postings SET kind = 2 WHERE log_id = $1 AND kind = 1 AND value = 'tool.call'"},
		{"position dropped from the front of a list", "UPDATE arxi.postings SET positions = positions[2:]" + sess1},
		{"position dropped from the end of a list", "UPDATE arxi.postings SET positions = positions[1:1], last = positions[1]" + sess1},
		{"position added to a list", "UPDATE arxi.postings SET positions = array_prepend(11::bigint, positions)" + sess1},
		{"positions out of order", "UPDATE arxi.postings SET positions = ARRAY[20, 14]::bigint[]" + sess1},
		{"a null position", "UPDATE arxi.postings SET positions = ARRAY[14, NULL, 20]::bigint[]" + sess1},
		{"no positions", "UPDATE arxi.postings SET positions = '{}'" + sess1},
		{"last moved", "UPDATE arxi.postings SET last = 21" + sess1},
		{"a list overlapping the one before", "UPDATE arxi.postings SET positions = ARRAY[8, 14, 20]::bigint[]" + sess1},
		{"postings row added", "INSERT INTO arxi.postings (log_id, kind, value, last, positions) VALUES ($1, 5, 'trace-9', 12, '{12}')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, log := fill(t)
			if err := pgtest.Exec(database(t), tc.sql, log); err != nil {
				t.Fatal(err)
			}
			storetest.CheckTampered(t, want, read(t, url))
		})
	}
}
