package postgres

import (
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestTamperedIndexes edits, behind the store's back, the envelope
// columns that PostgreSQL's label and time indexes are built over, and
// holds every read path to SPEC §8: store.corrupt, or exactly what the
// untampered log returns (storetest.CheckTampered).
func TestTamperedIndexes(t *testing.T) {
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
	for _, tc := range []struct{ name, set, where string }{
		// Segment 2 holds positions 16-30.
		{"session labels of one segment deleted", "session_id = NULL", "position BETWEEN 16 AND 30"},
		{"trace labels of one segment renamed", "trace_id = 'trace-9'", "position BETWEEN 16 AND 30 AND trace_id IS NOT NULL"},
		{"claimed time edited", "claimed_at = claimed_at + interval '1 hour'", "position = 17"},
		{"claimed time edited back", "claimed_at = claimed_at - interval '1 hour'", "position = 22"},
		{"claimed nanoseconds edited", "claimed_ns = 7", "position = 18"},
		{"label renamed", "trace_id = 'trace-9'", "trace_id = 'trace-2'"},
		{"one position moved to another session", "session_id = 'sess-4'", "position = 20"},
		{"event type of one row", "event_type = 'tool.result'", "position = 21"},
		{"a run of times shifted", "claimed_at = claimed_at + interval '1 day'", "position BETWEEN 11 AND 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, log := fill(t)
			if err := pgtest.Exec(database(t), "UPDATE arxi.envelopes SET "+tc.set+" WHERE log_id = $1 AND "+tc.where, log); err != nil {
				t.Fatal(err)
			}
			storetest.CheckTampered(t, want, read(t, url))
		})
	}
}
