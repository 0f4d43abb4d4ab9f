package recorder

import (
	"path/filepath"
	"testing"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/internal/storebench"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/postgres"
	"arxi.dev/arxi/pkg/store/sqlite"
)

// BenchmarkRecord measures the writer's work for single-envelope jobs,
// as POST /v1/envelopes submits them, from 64 goroutines: sealing, the
// rendered response, the store's checks and rows, without HTTP, on the
// memory backend, on SQLite with synchronous=NORMAL (no fsync at commit),
// so that the figure is CPU rather than the disk, and on PostgreSQL (a
// throwaway cluster on this machine, its CPU not counted). The figure to
// compare is cpu-µs/job, the process's CPU time per job (ns/op includes
// the writer's waits for jobs, and PostgreSQL's); the allocations are the
// process's too.
func BenchmarkRecord(b *testing.B) {
	const n = 1000
	jobs := make([]*evidence.Unsealed, n)
	for i := range jobs {
		jobs[i] = unsealed(b, string(events.Bench.Line(i)))
	}
	render := func(o *Outcome) (*Response, error) {
		return &Response{Status: 201, ContentType: "application/json", Body: o.Envelopes[0].AppendJCS(nil)}, nil
	}
	for _, backend := range []string{"memory", "sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var be store.Backend = memory.New()
			switch backend {
			case "sqlite":
				db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "arxi.db"), Synchronous: "normal"})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				be = db
			case "postgres":
				db, err := postgres.Open(ctx, postgres.Config{URL: pgtest.LogURL(pgtest.Shared(b).NewDatabase(b), "bench")})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				be = db
			}
			r, _ := start(b, be, Config{})
			defer r.Close(false)
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := storebench.CPUTime()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					j := &Job{Kind: Record, Records: []evidence.Record{jobs[i%n]}, Render: render}
					if _, _, err := r.Do(ctx, j); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((storebench.CPUTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/job")
		})
	}
}
