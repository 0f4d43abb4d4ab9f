package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"arxi.dev/arxi/internal/cputime"
	"arxi.dev/arxi/internal/storebench"
)

// BenchmarkBackendRows measures the SQLite backend alone: Tx.AddEnvelope
// of 50,000 ready-made rows in transactions of 1000, no decoding or
// hashing.
func BenchmarkBackendRows(b *testing.B) {
	stream := sealBench(b, benchEvents(benchN), 0)
	seg, rows := storebench.Rows(b, stream)
	var total, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		db, err := Open(ctx, Config{Path: filepath.Join(b.TempDir(), "arxi.db")})
		if err != nil {
			b.Fatal(err)
		}
		start, c := time.Now(), cputime.Self()
		tx, _ := db.Begin(ctx)
		tx.AddSegment(ctx, seg)
		for i := range rows {
			if err := tx.AddEnvelope(ctx, &rows[i]); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				tx.Close()
				tx, _ = db.Begin(ctx)
			}
		}
		tx.Commit()
		tx.Close()
		total, cpu = total+time.Since(start), cpu+cputime.Self()-c
		db.Close()
	}
	b.ReportMetric(float64(len(rows)*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(rows)*b.N), "cpu-µs/row")
}
