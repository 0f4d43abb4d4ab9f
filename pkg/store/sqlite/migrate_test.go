package sqlite

import (
	"bytes"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestMigrateFromV1: a store written with schema version 1 (before the
// idempotency table) is refused by readers until a writer opens it, which
// migrates it in one transaction; every row reads back the same.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 5}, storetest.Events(0, 12), false)
	newStore(t, path, in)
	// Make it a version 1 store again.
	clitest.ExecSQL(t, path, "DROP TABLE idempotency")
	clitest.ExecSQL(t, path, "PRAGMA user_version = 1")
	_, err := OpenReader(ctx, path)
	wantCode(t, "reader of a v1 store", err, errcode.StoreSchema)
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, db, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := s.Snapshot(ctx)
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil {
		t.Fatal(err)
	}
	sn.Close()
	if !bytes.Equal(out.Bytes(), in) {
		t.Error("the migrated store reads back differently")
	}
	db.Close()
	r, err := OpenReader(ctx, path)
	if err != nil {
		t.Fatalf("reader after migration: %v", err)
	}
	r.Close()
}
