package postgres

import (
	"fmt"
	"testing"
)

// TestBeginEarly: an early transaction commits with synchronous_commit
// off and a plain one with it on, whatever came before; Durable commits
// the log's durable_at synchronously on another connection, which
// flushes the write-ahead log past the early commit. With normal, every
// transaction is asynchronous and Durable does nothing.
func TestBeginEarly(t *testing.T) {
	for _, tc := range []struct {
		sync         string
		plain, early string
	}{{"full", "on", "off"}, {"normal", "off", "off"}} {
		t.Run(tc.sync, func(t *testing.T) {
			w, err := Open(ctx, Config{URL: newLog(t), Synchronous: tc.sync})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			durableAt := fmt.Sprintf("SELECT coalesce(durable_at::text, 'never') FROM arxi.logs WHERE id = %d", w.log)
			for i, early := range []bool{false, true, true, false, true} {
				begin, want := w.Begin, tc.plain
				if early {
					begin, want = w.BeginEarly, tc.early
				}
				t1, err := begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var got string
				if err := t1.(*tx).tx.QueryRow(ctx, "SHOW synchronous_commit").Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("transaction %d, early %v: synchronous_commit %s, want %s", i, early, got, want)
				}
				if err := t1.SetMeta(ctx, "k", fmt.Sprint(i)); err != nil {
					t.Fatal(err)
				}
				if err := t1.Commit(); err != nil {
					t.Fatal(err)
				}
				t1.Close()
				var lsn string
				if err := w.w.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
					t.Fatal(err)
				}
				before := value(t, database(t), durableAt)
				if err := w.Durable(); err != nil {
					t.Fatal(err)
				}
				after := value(t, database(t), durableAt)
				switch {
				case tc.sync == "normal" && after != "never":
					t.Errorf("normal: Durable wrote durable_at %s", after)
				case tc.sync != "normal" && (after == "never" || after == before):
					t.Errorf("transaction %d: durable_at %s after Durable, %s before", i, after, before)
				}
				if tc.sync != "normal" {
					if ok := value(t, database(t), fmt.Sprintf("SELECT (pg_current_wal_flush_lsn() >= '%s')::text", lsn)); ok != "true" {
						t.Errorf("transaction %d: the write-ahead log is not flushed past its commit (%s)", i, lsn)
					}
				}
			}
		})
	}
}
