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
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	_ "modernc.org/sqlite"
)

// benchEvents returns n unsealed events whose sealed envelope lines are
// about 1 KiB (see benchEventsFrom).
func benchEvents(n int) []byte { return benchEventsFrom(0, n) }

func sealBench(b *testing.B, events []byte, max uint64) []byte {
	s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench"), MaxEnvelopes: max})
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := sealing.Stream(context.Background(), s, bytes.NewReader(events), &out, sealing.StreamOptions{SealAtEnd: true}); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

func envelopeLines(stream []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.SplitAfter(stream, []byte("\n")) {
		if bytes.Contains(l, []byte(`"record":"envelope"`)) {
			out = append(out, bytes.TrimSuffix(l, []byte("\n")))
		}
	}
	return out
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

// insertPlain inserts the same lines into a plain table with database/sql,
// WAL and synchronous=FULL, in transactions of batch rows: the baseline
// of what modernc SQLite does with these bytes and nothing else.
func insertPlain(b *testing.B, dir string, lines [][]byte, batch int) (time.Duration, int64) {
	path := filepath.Join(dir, "plain.db")
	start := time.Now()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, line BLOB NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	stmt, err := db.Prepare("INSERT INTO rows (id, line) VALUES (?, ?)")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(lines); i += batch {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		st := tx.Stmt(stmt)
		for j := i; j < min(i+batch, len(lines)); j++ {
			if _, err := st.Exec(j+1, lines[j]); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	stmt.Close()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start), storeSize(path)
}

const benchN = 50_000

// BenchmarkAppend appends 50,000 sealed 1 KiB envelopes to a new store in
// batches of 1000 (synchronous=FULL, every hash recomputed, every row
// indexed), and in the same run inserts the same envelope lines into a
// plain one-table SQLite database in the same batches. It reports both
// rates, their ratio and the bytes stored per envelope.
func BenchmarkAppend(b *testing.B) {
	stream := sealBench(b, benchEvents(benchN), 0)
	lines := envelopeLines(stream)
	var lineBytes int
	for _, l := range lines {
		lineBytes += len(l)
	}
	var arxi, plain, arxiCPU, plainCPU time.Duration
	var arxiSize, plainSize int64
	b.ResetTimer()
	for range b.N {
		c := cpuTime()
		d, n := appendArxi(b, b.TempDir(), stream, 1000)
		arxi, arxiSize, arxiCPU = arxi+d, n, arxiCPU+cpuTime()-c
		c = cpuTime()
		d, n = insertPlain(b, b.TempDir(), lines, 1000)
		plain, plainSize, plainCPU = plain+d, n, plainCPU+cpuTime()-c
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

const (
	bigN       = 1_000_000
	bigSegment = 100_000
)

// bigStore returns a store of 1,000,000 1 KiB envelopes in segments of
// 100,000, built once (a minute or so) and kept in the temp directory.
func bigStore(b *testing.B) string {
	schema := sha256.Sum256([]byte(strings.Join(migrations, "")))
	path := filepath.Join(os.TempDir(), fmt.Sprintf("arxi-bench-%d-%x.db", bigN, schema[:4]))
	if db, err := Open(ctx, Config{Path: path, ReadOnly: true}); err == nil {
		s, _ := store.Open(ctx, db, store.Config{VerifyDepth: store.NoVerify})
		sn, _ := s.Snapshot(ctx)
		g, err := sn.LastSegment(ctx)
		sn.Close()
		db.Close()
		if err == nil && g != nil && g.Sealed() && g.FirstPosition+g.Count-1 == bigN {
			return path
		}
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-lock"} {
		os.Remove(path + suffix)
	}
	b.Logf("building %s", path)
	start := time.Now()
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	s, _ := store.Open(ctx, db, store.Config{})
	const chunk = 50_000
	for i := 0; i < bigN; i += chunk {
		src := &store.Source{Store: s, Open: true}
		start, err := src.Start(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sl, _ := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench"), MaxEnvelopes: bigSegment, Start: start})
		var sealed bytes.Buffer
		events := benchEventsFrom(i, chunk)
		if _, err := sealing.Stream(ctx, sl, bytes.NewReader(events), &sealed, sealing.StreamOptions{}); err != nil {
			b.Fatal(err)
		}
		a, _ := s.Appender(ctx)
		if _, err := store.AppendStream(ctx, a, &sealed, store.AppendOptions{Batch: 10_000}); err != nil {
			b.Fatal(err)
		}
	}
	a, _ := s.Appender(ctx)
	if o := a.OpenSegment(); o != nil {
		b.Fatalf("segment of %d envelopes left open", o.Count)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built in %v", time.Since(start))
	return path
}

// benchEventsFrom is benchEvents for events from..from+n-1. Labels come
// in runs, as real traffic does: a trace is 50 consecutive events, a
// session 500; one event in ten belongs instead to one of 100 long traces
// spread evenly over the whole store (1000 of each per million events),
// the worst case for reading a page of one trace.
func benchEventsFrom(from, n int) []byte {
	var b bytes.Buffer
	pad := strings.Repeat("x", 428)
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	types := []string{"tool.call", "tool.result", "policy.decision", "session.start"}
	for i := from; i < from+n; i++ {
		trace := fmt.Sprintf("trace-%07d", i/50)
		if i%10 == 0 {
			trace = fmt.Sprintf("long-%03d", (i/10)%100)
		}
		fmt.Fprintf(&b, `{"event_type":%q,"actor_id":"agent:%d","environment_id":"prod","adapter_id":"bench","trace_id":%q,"session_id":"session-%06d","claimed_at":%q,"payload":{"i":%d,"pad":%q}}`+"\n",
			types[i%len(types)], i%10, trace, i/500, base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i, pad)
	}
	return b.Bytes()
}

// BenchmarkQueryTraceMillion asks a 1,000,000-envelope store for the
// first page of a trace, as arxi-query --trace-id does: open the file,
// snapshot, query, every row read back and verified. Each iteration asks
// ten times; ms/query is their mean.
//
//   - spread: ten different traces of the hundred whose 1000 envelopes
//     each are spread evenly over the store, a full page on 1000 different
//     database pages: the worst case, as cold as the page cache leaves it;
//   - spread-warm: one such trace, asked once before timing;
//   - run: traces of consecutive events (45 envelopes each), as most
//     traces are.
func BenchmarkQueryTraceMillion(b *testing.B) {
	path := bigStore(b)
	query := func(b *testing.B, trace string, want int) {
		db, err := Open(ctx, Config{Path: path, ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		s, _ := store.Open(ctx, db, store.Config{VerifyDepth: store.NoVerify})
		sn, err := s.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer sn.Close()
		p, err := sn.Query(ctx, store.Filter{TraceID: scalar.MustLabel(trace)}, "", 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Items) != want || p.Next != "" {
			b.Fatalf("%s: page of %d, next %q", trace, len(p.Items), p.Next)
		}
	}
	const perIter = 10
	for _, bc := range []struct {
		name  string
		trace func(i int) string
		want  int
		warm  bool
	}{
		{"spread", func(i int) string { return fmt.Sprintf("long-%03d", (i*37)%100) }, 1000, false},
		{"spread-warm", func(int) string { return "long-042" }, 1000, true},
		{"run", func(i int) string { return fmt.Sprintf("trace-%07d", (i*7919)%(bigN/50)) }, 45, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.warm {
				query(b, bc.trace(0), bc.want)
			}
			i := 0
			b.ResetTimer()
			for range b.N {
				for range perIter {
					query(b, bc.trace(i), bc.want)
					i++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*perIter), "ms/query")
			b.ReportMetric(float64(storeSize(path))/bigN, "bytes/envelope")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
