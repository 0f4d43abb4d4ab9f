package sqlite

import (
	"path/filepath"
	"strconv"
	"testing"

	"arxi.dev/arxi/pkg/store/storetest"
)

// TestTamperedIndexes edits the label and time indexes behind the store's
// back — the postings and zones, and the envelope columns a query filters
// on — and holds every read path to SPEC §8: store.corrupt, or exactly
// what the untampered store returns (storetest.CheckTampered). Before
// indexes stopped being the authority, deleting the postings of one
// segment made a bundle of a session omit that segment and exit 0.
func TestTamperedIndexes(t *testing.T) {
	label := func(kind int, v string) string { return itoa(labelID(kind, v)) }
	fill := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "arxi.db")
		db, err := Open(ctx, Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		storetest.FillTamper(t, db)
		return path
	}
	read := func(t *testing.T, path string) *storetest.Reads {
		s, err := OpenReader(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return storetest.Read(t, s)
	}
	want := read(t, fill(t))
	for _, tc := range []struct {
		name string
		edit func(*testing.T, string)
	}{
		// Segment 2 holds positions 16-30; its batches end at 20 and 30.
		{"postings of one segment deleted", sqlEdit("DELETE FROM postings WHERE last BETWEEN 16 AND 30")},
		{"session postings of one segment deleted", sqlEdit("DELETE FROM postings WHERE last BETWEEN 16 AND 30 AND label = " + label(kindSession, "sess-1"))},
		{"claimed_s edited", sqlEdit("UPDATE envelopes SET claimed_s = claimed_s + 3600 WHERE position = 17")},
		{"claimed_s edited back in time", sqlEdit("UPDATE envelopes SET claimed_s = claimed_s - 3600 WHERE position = 22")},
		{"label renamed in the postings", sqlEdit("UPDATE postings SET label = " + label(kindTrace, "trace-9") + " WHERE label = " + label(kindTrace, "trace-2"))},
		{"label renamed in a column", sqlEdit("UPDATE envelopes SET trace_id = 'trace-9' WHERE trace_id = 'trace-2'")},
		{"session column moved", sqlEdit("UPDATE envelopes SET session_id = 'sess-4' WHERE position = 20")},
		{"position dropped from a posting list", dropPosting(kindSession, "sess-1", 0)},
		{"position dropped from an event type", dropPosting(kindEventType, "tool.call", 1)},
		{"zone shifted in time", sqlEdit("UPDATE zones SET min_s = min_s + 3600, max_s = max_s + 3600 WHERE last = 20")},
		{"zone shifted in position", sqlEdit("UPDATE zones SET first = first + 1 WHERE last = 30")},
		{"zone deleted", sqlEdit("DELETE FROM zones WHERE last = 20")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := fill(t)
			tc.edit(t, path)
			storetest.CheckTampered(t, want, read(t, path))
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
