package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

var ctx = context.Background()

var (
	dbOnce sync.Once
	dbURL  string
	logSeq atomic.Int64
)

// database returns the package's test database on the run's shared
// server; tests get a log of their own with newLog.
func database(t testing.TB) string {
	t.Helper()
	s := pgtest.Shared(t)
	dbOnce.Do(func() { dbURL = s.NewDatabase(t) })
	return dbURL
}

// newLog returns the URL of a new, empty log.
func newLog(t testing.TB) string {
	t.Helper()
	return pgtest.LogURL(database(t), fmt.Sprintf("log-%d", logSeq.Add(1)))
}

func openWriter(t testing.TB, url string) *DB {
	t.Helper()
	db, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	t.Parallel()
	urls := map[store.Backend]string{}
	var mu sync.Mutex
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Backend {
			url := newLog(t)
			db := openWriter(t, url)
			mu.Lock()
			urls[db] = url
			mu.Unlock()
			return db
		},
		Reopen: func(t *testing.T, b store.Backend) store.Backend {
			mu.Lock()
			url := urls[b]
			mu.Unlock()
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			db := openWriter(t, url)
			mu.Lock()
			urls[db] = url
			mu.Unlock()
			return db
		},
		Corrupt: func(t *testing.T, b store.Backend, c storetest.Corruption) {
			corrupt(t, b.(*DB), c)
		},
	})
}

// corrupt writes a column directly with SQL, as anyone with write access
// to the database could.
func corrupt(t *testing.T, db *DB, c storetest.Corruption) {
	t.Helper()
	col, key := c.SQLKey()
	sql := fmt.Sprintf("UPDATE arxi.%s SET %s = $1 WHERE log_id = $2 AND %s = $3", c.Table, c.Column, col)
	if err := pgtest.Exec(database(t), sql, c.Value, db.log, key); err != nil {
		t.Fatalf("corrupt %s.%s: %v", c.Table, c.Column, err)
	}
}
