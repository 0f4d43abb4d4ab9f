package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Backend {
			db, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "arxi.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		Reopen: func(t *testing.T, b store.Backend) store.Backend {
			path := b.(*DB).path
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := Open(ctx, Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		Corrupt: func(t *testing.T, b store.Backend, c storetest.Corruption) {
			corrupt(t, b.(*DB).path, c)
		},
	})
}

// corrupt writes a column directly with database/sql, as anyone with write
// access to the file could.
func corrupt(t *testing.T, path string, c storetest.Corruption) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	col, key := c.SQLKey()
	res, err := db.Exec(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ?", c.Table, c.Column, col), c.Value, key)
	if err != nil {
		t.Fatalf("corrupt %s.%s: %v", c.Table, c.Column, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("corrupt %s.%s: %d rows", c.Table, c.Column, n)
	}
}
