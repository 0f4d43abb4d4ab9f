package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestCheckIndexes edits the indexes behind the store's back, each edit
// one that a query would not notice or would answer wrongly from: Check
// (arxi-append doctor) rebuilds postings and zones from the verified rows
// and reports each difference as store.corrupt naming what differs.
func TestCheckIndexes(t *testing.T) {
	// 40 events in batches of 10 (four zones), segments of 15.
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 15}, storetest.Events(0, 40), true)
	label := func(kind int, v string) string { return strconv.FormatInt(labelID(kind, v), 10) }
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, path string)
		msg  string
	}{
		{"label rows of a batch deleted", sqlEdit("DELETE FROM postings WHERE label = " + label(kindTrace, "trace-1") + " AND last <= 10"), `trace_id "trace-1"`},
		{"claimed time column", sqlEdit("UPDATE envelopes SET claimed_s = claimed_s + 3600 WHERE position = 17"), "envelopes row 17"},
		{"label renamed", sqlEdit("UPDATE envelopes SET trace_id = 'trace-9' WHERE trace_id = 'trace-2'"), "envelopes row"},
		{"posting dropped", dropPosting(kindActor, "agent:1", 1), "agent:1"},
		{"zone narrowed by a nanosecond", sqlEdit("UPDATE zones SET max_ns = max_ns - 1 WHERE last = 20"), "zones row 20"},
		{"zone shifted", sqlEdit("UPDATE zones SET first = first + 1 WHERE last = 30"), "zones row 30"},
		{"posting moved to another label", sqlEdit("UPDATE postings SET label = " + label(kindSession, "sess-5") + " WHERE label = " + label(kindSession, "sess-4") + " AND last <= 10"), "sess-"},
		{"posting added", sqlEdit("INSERT INTO postings VALUES (" + label(kindEventType, "tool.call") + ", 1000, x'e807')"), "postings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "arxi.db")
			db, err := Open(ctx, Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := store.Open(ctx, db, store.Config{})
			a, _ := s.Appender(ctx)
			if _, err := store.AppendStream(ctx, a, strings.NewReader(string(in)), store.AppendOptions{Batch: 10}); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if err := checkStore(path); err != nil {
				t.Fatalf("healthy store: %v", err)
			}
			tc.edit(t, path)
			err = checkStore(path)
			t.Log(err)
			if !errors.Is(err, errcode.StoreCorrupt) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Check = %v, want store.corrupt naming %s", err, tc.msg)
			}
		})
	}
}

func checkStore(path string) error {
	s, err := OpenReader(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.InSnapshot(ctx, func(sn *store.Snapshot) error {
		_, err := sn.Check(ctx, store.CheckOptions{})
		return err
	})
}

func sqlEdit(stmt string) func(*testing.T, string) {
	return func(t *testing.T, path string) { clitest.ExecSQL(t, path, stmt) }
}

// dropPosting removes the nth position from the first postings row of a
// label.
func dropPosting(kind int, value string, n int) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var id, last int64
		var raw []byte
		if err := db.QueryRow("SELECT label, last, positions FROM postings WHERE label = ? ORDER BY last LIMIT 1", labelID(kind, value)).Scan(&id, &last, &raw); err != nil {
			t.Fatal(err)
		}
		ps, err := decodePositions(nil, raw, uint64(last))
		if err != nil || len(ps) <= n+1 {
			t.Fatalf("postings of %s: %v %v", value, ps, err)
		}
		ps = append(ps[:n], ps[n+1:]...)
		if _, err := db.Exec("UPDATE postings SET positions = ? WHERE label = ? AND last = ?", encodePositions(nil, ps), id, last); err != nil {
			t.Fatal(err)
		}
	}
}
