package sqlite

import (
	"errors"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
)

// TestBeginEarly: an early transaction runs at synchronous=NORMAL and a
// plain one at the level the store was opened with, whatever came before
// (the level cannot change inside a transaction, so Begin sets it); with
// extra or normal, BeginEarly is Begin and Durable does nothing.
func TestBeginEarly(t *testing.T) {
	level := func(t *testing.T, w store.Tx) int64 {
		t.Helper()
		row, err := w.(*tx).c.queryRow(ctx, "PRAGMA synchronous")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := asInt(row[0])
		return n
	}
	for _, tc := range []struct {
		sync         string
		plain, early int64 // SQLite's numbers: 1 NORMAL, 2 FULL, 3 EXTRA
	}{{"full", 2, 1}, {"extra", 3, 3}, {"normal", 1, 1}} {
		t.Run(tc.sync, func(t *testing.T) {
			db, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "arxi.db"), Synchronous: tc.sync})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, early := range []bool{false, true, true, false, true, false} {
				begin, want := db.Begin, tc.plain
				if early {
					begin, want = db.BeginEarly, tc.early
				}
				tx, err := begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := level(t, tx); got != want {
					t.Errorf("early %v: synchronous %d, want %d", early, got, want)
				}
				if err := tx.SetMeta(ctx, "k", "v"); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				tx.Close()
				if err := db.Durable(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestDurableFails: Durable without a write-ahead log to sync is
// store.io naming the store.
func TestDurableFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.path = filepath.Join(t.TempDir(), "elsewhere.db")
	err = db.Durable()
	var e *errcode.Error
	if !errors.As(err, &e) || e.Code != errcode.StoreIO || e.Path != db.path {
		t.Errorf("Durable = %v, want store.io naming %s", err, db.path)
	}
}
