package sealing

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
)

const benchEnvelopes = 20_000

// benchSeal seals benchEnvelopes ~1 KiB events end to end per iteration:
// parse, canonicalise, hash, chain, sign (when signers are given), write.
func benchSeal(b *testing.B, signers []Signer) {
	in := events.Bench.Lines(0, benchEnvelopes)
	b.SetBytes(int64(len(in)))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for range b.N {
		s, err := New(Config{RecorderID: scalar.MustLabel("bench"), Signers: signers})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Stream(context.Background(), s, bytes.NewReader(in), io.Discard, StreamOptions{SealAtEnd: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	n := float64(b.N) * benchEnvelopes
	b.ReportMetric(n/b.Elapsed().Seconds(), "envelopes/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/envelope")
	b.ReportMetric(float64(len(in))/benchEnvelopes, "bytes/envelope")
}

func BenchmarkSeal(b *testing.B) { benchSeal(b, nil) }

func BenchmarkSealSigned(b *testing.B) {
	k, err := signing.Generate(nil)
	if err != nil {
		b.Fatal(err)
	}
	benchSeal(b, []Signer{k})
}

// BenchmarkSealRSS runs the arxi-seal binary over 1,000,000 generated
// envelopes streamed through a pipe and reports its peak resident set size.
// It builds the binary first; run it with -benchtime 1x.
func BenchmarkSealRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("seals a million envelopes")
	}
	bin := filepath.Join(b.TempDir(), "arxi-seal")
	build := exec.Command("go", "build", "-o", bin, "arxi.dev/arxi/cmd/arxi-seal")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(bin, "--recorder-id", "bench", "--seal-at-end", "--progress", "never")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout = io.Discard
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		go func() {
			events.Bench.Write(stdin, n)
			stdin.Close()
		}()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
		b.ReportMetric(n/b.Elapsed().Seconds(), "envelopes/s")
	}
}
