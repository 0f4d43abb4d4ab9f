package recorder

import (
	"testing"

	"arxi.dev/arxi/internal/cputime"
	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/evidence"
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
	for _, kind := range backends {
		b.Run(kind, func(b *testing.B) {
			r, _ := start(b, openBackend(b, kind, "normal"), Config{})
			defer r.Close(false)
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cputime.Self()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					j := &Job{Kind: Record, Records: []evidence.Record{jobs[i%n]}, Render: render}
					if _, _, err := r.Do(ctx, j); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((cputime.Self()-cpu).Microseconds())/float64(b.N), "cpu-µs/job")
		})
	}
}
