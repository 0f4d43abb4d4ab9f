package openclaw_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"arxi.dev/arxi/internal/cputime"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/openclaw"
	"arxi.dev/arxi/pkg/openclaw/internal/capturegen"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
)

// benchCapture is a generated frame capture of about 100,000 agent events
// (25 sessions × 262 runs, every third run failing once and retried: 100,375),
// with its tick, health and chat frames.
var benchCapture = capturegen.Config{Sessions: 25, Runs: 262}

func generate(b *testing.B) ([]byte, int) {
	var buf bytes.Buffer
	n, err := capturegen.Write(&buf, benchCapture)
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), n
}

// mapTo reads, checks and maps a capture as arxi-openclaw does, writing
// the lines to w.
func mapTo(b *testing.B, in []byte, w io.Writer) int {
	ctx := context.Background()
	c, err := openclaw.Read(ctx, bytes.NewReader(in), openclaw.Config{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	st, err := c.Map(ctx, func(r evidence.Record) error {
		line = append(r.AppendJCS(line[:0]), '\n')
		_, err := bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		b.Fatal(err)
	}
	return st.Envelopes
}

// cpuOf runs f n times and returns the least CPU time of a run.
func cpuOf(n int, f func()) time.Duration {
	best := time.Duration(1 << 62)
	for range n {
		start := cputime.Self()
		f()
		best = min(best, cputime.Self()-start)
	}
	return best
}

// BenchmarkCapture reads, checks and maps the 100,000-event capture (both
// passes, the spool on disk) on the CPUs -cpu gives (make bench: one).
// events/s is by the clock; cpu-events/s by the process's CPU time, which
// a loaded machine disturbs less. Two same-run baselines, as the least CPU
// time of a few runs of each: sha256-ratio is its time over hashing the
// capture's bytes once, seal-ratio its time over arxi-seal's sealing of
// its output (the next stage of the pipeline; under 1, arxi-openclaw is
// the faster stage).
func BenchmarkCapture(b *testing.B) {
	in, events := generate(b)
	var unsealed bytes.Buffer
	mapTo(b, in, &unsealed)
	// The ratios compare the least CPU time of three runs of each.
	mapping := cpuOf(3, func() { mapTo(b, in, io.Discard) })
	hash := cpuOf(5, func() { sha256.Sum256(in) })
	seal := cpuOf(3, func() {
		s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sealing.Stream(context.Background(), s, bytes.NewReader(unsealed.Bytes()), io.Discard, sealing.StreamOptions{SealAtEnd: true}); err != nil {
			b.Fatal(err)
		}
	})
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	cpu := cputime.Self()
	for range b.N {
		mapTo(b, in, io.Discard)
	}
	b.StopTimer()
	cpuPer := (cputime.Self() - cpu) / time.Duration(b.N)
	runtime.ReadMemStats(&ms1)
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(events)/per.Seconds(), "events/s")
	b.ReportMetric(float64(events)/cpuPer.Seconds(), "cpu-events/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N*events), "allocs/event")
	b.ReportMetric(float64(len(in))/float64(events), "bytes/event")
	b.ReportMetric(mapping.Seconds()/hash.Seconds(), "sha256-ratio")
	b.ReportMetric(mapping.Seconds()/seal.Seconds(), "seal-ratio")
}

// BenchmarkPipelineRSS runs the three binaries of arxi-openclaw |
// arxi-seal | arxi-append on the 100,000-event capture, one stage at a
// time on files (so each stage's time is its own), and reports each
// stage's events/s and CPU time, arxi-openclaw's peak RSS (it spools its
// input, so RSS must not follow the capture's size), and the ratios of
// arxi-openclaw's CPU time to the other stages' (under 1: never the
// slowest stage). It builds the binaries first; run it with -benchtime 1x.
func BenchmarkPipelineRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("builds three binaries and maps 100,000 events")
	}
	dir := b.TempDir()
	for _, name := range []string{"arxi-openclaw", "arxi-seal", "arxi-append"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, name), "arxi.dev/arxi/cmd/"+name)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			b.Fatal(err)
		}
	}
	// The capture goes straight to its file: a child's peak RSS counts its
	// parent's at the fork (Linux keeps the high-water mark across exec),
	// so this process must stay small.
	f, err := os.Create(filepath.Join(dir, "capture.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	events, err := capturegen.Write(f, benchCapture)
	if err != nil {
		b.Fatal(err)
	}
	size, _ := f.Seek(0, io.SeekCurrent)
	f.Close()
	runtime.GC()
	debug.FreeOSMemory()
	type stage struct {
		name   string
		args   []string
		stdin  string
		stdout string
	}
	stages := []stage{
		{"arxi-openclaw", nil, "capture.ndjson", "unsealed.ndjson"},
		{"arxi-seal", []string{"--recorder-id", "bench", "--seal-at-end", "--progress", "never"}, "unsealed.ndjson", "sealed.ndjson"},
		{"arxi-append", []string{"--store", "arxi.db"}, "sealed.ndjson", "receipts.ndjson"},
	}
	b.ResetTimer()
	for range b.N {
		os.Remove(filepath.Join(dir, "arxi.db"))
		cpu := map[string]time.Duration{}
		for _, s := range stages {
			in, err := os.Open(filepath.Join(dir, s.stdin))
			if err != nil {
				b.Fatal(err)
			}
			out, err := os.Create(filepath.Join(dir, s.stdout))
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(dir, s.name), s.args...)
			cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = dir, in, out, io.Discard
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			wall := time.Since(start)
			in.Close()
			out.Close()
			ps := cmd.ProcessState
			cpu[s.name] = ps.UserTime() + ps.SystemTime()
			b.ReportMetric(float64(events)/wall.Seconds(), s.name+"-events/s")
			b.ReportMetric(float64(events)/cpu[s.name].Seconds(), s.name+"-cpu-events/s")
			if s.name == "arxi-openclaw" {
				b.ReportMetric(float64(ps.SysUsage().(*syscall.Rusage).Maxrss)/1024, "peak-RSS-MiB") // KiB on Linux
				b.ReportMetric(float64(events)/wall.Seconds(), "events/s")
			}
		}
		b.ReportMetric(cpu["arxi-openclaw"].Seconds()/cpu["arxi-seal"].Seconds(), "cpu-ratio-to-seal")
		b.ReportMetric(cpu["arxi-openclaw"].Seconds()/cpu["arxi-append"].Seconds(), "cpu-ratio-to-append")
		b.ReportMetric(float64(size)/(1<<20), "capture-MiB")
	}
}
