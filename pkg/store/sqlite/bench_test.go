package sqlite

// Benchmarks of SPEC §8's store (issue 3's figures). make bench runs them
// as
//
//	go test -run '^$' -bench . -skip Million -cpu 1 ./pkg/store/sqlite
//	go test -run '^$' -bench Million -benchtime 1x ./pkg/store/sqlite
//
// BenchmarkPipeline uses two CPUs whatever -cpu says. The
// 1,000,000-envelope query benchmark builds its store once (about a
// minute) and keeps it in the system temp directory (1.2 GB).

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/cputime"
	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/internal/storebench"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	_ "modernc.org/sqlite"
)

// benchEvents returns n unsealed events whose sealed envelope lines are
// about 1 KiB (events.Store).
func benchEvents(n int) []byte { return events.Store.Lines(0, n) }

func sealBench(b *testing.B, events []byte, max uint64) []byte {
	return storebench.Seal(b, events, max)
}

// appendArxi appends a sealed stream to a new store and returns the time
// it took and the store's size in bytes.
func appendArxi(b *testing.B, dir string, stream []byte, batch int) (time.Duration, int64) {
	path := filepath.Join(dir, "arxi.db")
	start := time.Now()
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	s, err := store.Open(ctx, db, store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	a, _ := s.Appender(ctx)
	if _, err := store.AppendStream(ctx, a, bytes.NewReader(stream), store.AppendOptions{Batch: batch}); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	return d, storeSize(path)
}

// storeSize is the size of the database file and its write-ahead log.
func storeSize(path string) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(path + suffix); err == nil {
			n += st.Size()
		}
	}
	return n
}

// insertPlain inserts the same lines into a plain table (the baseline,
// storebench.InsertPlain) and returns the time it took and its size.
func insertPlain(b *testing.B, dir string, lines [][]byte, batch int) (time.Duration, int64) {
	path := filepath.Join(dir, "plain.db")
	d := storebench.InsertPlain(b, path, storebench.Each(lines), batch)
	return d, storeSize(path)
}

const benchN = 50_000

// BenchmarkAppend appends 50,000 sealed 1 KiB envelopes to a new store in
// batches of 1000 (synchronous=FULL, every hash recomputed, every row
// indexed), and in the same run inserts the same envelope lines into a
// plain one-table SQLite database in the same batches. It reports both
// rates, their ratio and the bytes stored per envelope.
func BenchmarkAppend(b *testing.B) {
	stream := sealBench(b, benchEvents(benchN), 0)
	lines := storebench.EnvelopeLines(stream)
	var lineBytes int
	for _, l := range lines {
		lineBytes += len(l)
	}
	var arxi, plain, arxiCPU, plainCPU time.Duration
	var arxiSize, plainSize int64
	b.ResetTimer()
	for range b.N {
		c := cputime.Self()
		d, n := appendArxi(b, b.TempDir(), stream, 1000)
		arxi, arxiSize, arxiCPU = arxi+d, n, arxiCPU+cputime.Self()-c
		c = cputime.Self()
		d, n = insertPlain(b, b.TempDir(), lines, 1000)
		plain, plainSize, plainCPU = plain+d, n, plainCPU+cputime.Self()-c
	}
	envs := float64(benchN * b.N)
	// CPU time per envelope does not count waiting for the disk or for
	// other processes on a shared machine.
	b.ReportMetric(float64(arxiCPU.Nanoseconds())/1e3/envs, "cpu-µs/envelope")
	b.ReportMetric(float64(plainCPU.Nanoseconds())/1e3/envs, "plain-cpu-µs/row")
	b.ReportMetric(envs/arxi.Seconds(), "envelopes/s")
	b.ReportMetric(envs/plain.Seconds(), "plain-rows/s")
	b.ReportMetric(plain.Seconds()/arxi.Seconds(), "ratio-to-plain")
	b.ReportMetric(float64(arxiSize)/benchN, "bytes/envelope")
	b.ReportMetric(float64(plainSize)/benchN, "plain-bytes/row")
	b.ReportMetric(float64(lineBytes)/benchN, "line-bytes")
}

// BenchmarkPipeline is arxi-seal | arxi-append in one process on two
// CPUs: a sealer goroutine writes the sealed stream into a pipe that
// AppendStream reads, from 50,000 unsealed 1 KiB events to durable
// receipts.
func BenchmarkPipeline(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	events := benchEvents(benchN)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		pr, pw := io.Pipe()
		go func() {
			s, _ := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench")})
			_, err := sealing.Stream(ctx, s, bytes.NewReader(events), pw, sealing.StreamOptions{SealAtEnd: true})
			pw.CloseWithError(err)
		}()
		db, err := Open(ctx, Config{Path: filepath.Join(dir, "arxi.db")})
		if err != nil {
			b.Fatal(err)
		}
		s, _ := store.Open(ctx, db, store.Config{})
		a, _ := s.Appender(ctx)
		var receipts int
		if _, err := store.AppendStream(ctx, a, pr, store.AppendOptions{Batch: 1000, Receipts: func(rs []store.Receipt) error {
			receipts += len(rs)
			return nil
		}}); err != nil {
			b.Fatal(err)
		}
		db.Close()
		if receipts != benchN {
			b.Fatalf("%d receipts", receipts)
		}
	}
	b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "envelopes/s")
}

const bigN = storebench.BigN

// bigStore returns a store of 1,000,000 1 KiB envelopes in segments of
// 100,000 (storebench.FillBig), built once (a minute or so) and kept in
// the temp directory.
func bigStore(b *testing.B) string {
	schema := sha256.Sum256([]byte(schema))
	path := filepath.Join(os.TempDir(), fmt.Sprintf("arxi-bench-%d-%x.db", bigN, schema[:4]))
	if s, err := OpenReader(ctx, path); err == nil {
		big := storebench.IsBig(s)
		s.Close()
		if big {
			return path
		}
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-lock"} {
		os.Remove(path + suffix)
	}
	b.Logf("building %s", path)
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	s, _ := store.Open(ctx, db, store.Config{})
	storebench.FillBig(b, s)
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkQueryTraceMillion asks a 1,000,000-envelope store for the
// first page of a trace, as arxi-query --trace-id does, from opening the
// file (storebench.QueryTrace).
func BenchmarkQueryTraceMillion(b *testing.B) {
	path := bigStore(b)
	storebench.QueryTrace(b, func() (*store.Store, error) { return OpenReader(ctx, path) }, float64(storeSize(path))/bigN)
}

// BenchmarkBundleMillion builds the bundle of one trace of consecutive
// events from the 1,000,000-envelope store (storebench.BundleTrace).
func BenchmarkBundleMillion(b *testing.B) {
	path := bigStore(b)
	storebench.BundleTrace(b, func() (*store.Store, error) { return OpenReader(ctx, path) })
}

// BenchmarkIndexChoice measures what the label and time index costs an
// append, the way the store writes (one INSERT per envelope row, one
// transaction of 1000 rows, synchronous=FULL), on the rows of 50,000
// envelopes: with no index at all, with the postings and zones the store
// keeps, and with plain SQLite indexes on the six label columns and the
// claimed time instead (docs/store.md).
func BenchmarkIndexChoice(b *testing.B) {
	stream := sealBench(b, benchEvents(benchN), 0)
	_, rows := storebench.Rows(b, stream)
	indexes := []string{"event_type", "actor_id", "environment_id", "adapter_id", "trace_id", "session_id", "claimed_s, claimed_ns"}
	for _, variant := range []string{"none", "postings", "indexes"} {
		b.Run(variant, func(b *testing.B) {
			var cpu, wall time.Duration
			var size int64
			for range b.N {
				path := filepath.Join(b.TempDir(), "arxi.db")
				c, err := openConn("file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)")
				if err != nil {
					b.Fatal(err)
				}
				ddl := []string{"PRAGMA page_size=8192", "PRAGMA journal_mode=WAL",
					"CREATE TABLE segments (seq INTEGER PRIMARY KEY)", "INSERT INTO segments VALUES (1)", envelopesTable}
				switch variant {
				case "postings":
					ddl = append(ddl, postingsTable, "CREATE TABLE zones (last INTEGER PRIMARY KEY, first INTEGER NOT NULL, min_s INTEGER NOT NULL, min_ns INTEGER NOT NULL, max_s INTEGER NOT NULL, max_ns INTEGER NOT NULL)")
				case "indexes":
					for _, col := range indexes {
						ddl = append(ddl, fmt.Sprintf("CREATE INDEX envelopes_%s ON envelopes (%s)", strings.TrimSuffix(strings.Fields(col)[0], ","), col))
					}
				}
				for _, q := range ddl {
					if err := c.execDirect(ctx, q); err != nil {
						b.Fatal(q, err)
					}
				}
				start, c0 := time.Now(), cputime.Self()
				var ps postings
				var rb rowBatch
				var z zone
				for i := range rows {
					if i%1000 == 0 {
						c.execDirect(ctx, "BEGIN IMMEDIATE")
					}
					if err := rb.add(c, &rows[i], &ps); err != nil {
						b.Fatal(err)
					}
					sec, ns := splitTime(rows[i].ClaimedAt)
					z.add(rows[i].Position, sec, ns)
					if i%1000 == 999 || i == len(rows)-1 {
						if err := rb.flush(c); err != nil {
							b.Fatal(err)
						}
						if variant == "postings" {
							if err := ps.flush(c); err != nil {
								b.Fatal(err)
							}
							if _, err := c.exec(bg, "INSERT INTO zones VALUES (?, ?, ?, ?, ?, ?)", int64(z.last), int64(z.first), z.minS, z.minNS, z.maxS, z.maxNS); err != nil {
								b.Fatal(err)
							}
						}
						ps, z = nil, zone{}
						if err := c.execDirect(ctx, "COMMIT"); err != nil {
							b.Fatal(err)
						}
					}
				}
				wall, cpu = wall+time.Since(start), cpu+cputime.Self()-c0
				c.close()
				size = storeSize(path)
			}
			n := float64(len(rows) * b.N)
			b.ReportMetric(n/wall.Seconds(), "rows/s")
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/row")
			b.ReportMetric(float64(size)/float64(len(rows)), "bytes/envelope")
		})
	}
}
