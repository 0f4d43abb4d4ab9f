package verify_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/internal/cputime"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/verify"
	"arxi.dev/arxi/pkg/zstdio"
)

const benchEnvelopes = 20_000

// benchBundles are bundles of benchEnvelopes of the ~1 KiB events of events.Bench
// in segments of 5,000, every envelope disclosed: unsigned, and signed by
// one key.
var benchBundles = map[bool]func() []byte{
	false: sync.OnceValue(func() []byte { return benchBundle(nil) }),
	true:  sync.OnceValue(func() []byte { return benchBundle([]*signing.Key{bundletest.Key(1)}) }),
}

func benchBundle(keys []*signing.Key) []byte {
	b, err := fixture.Build(bundletest.BenchBytes(benchEnvelopes, 5000, keys...), bundle.Selector{All: true})
	if err != nil {
		panic(err)
	}
	return b
}

func benchVerify(b *testing.B, signed bool) {
	data := benchBundles[signed]()
	var cfg verify.Config
	if signed {
		cfg.TrustRoot = bundletest.ParseTrustRoot("any_trusted_key", bundletest.Key(1))
	}
	b.SetBytes(int64(len(data)))
	runtime.GC() // the garbage of building the input, not of verifying it
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cputime.Self()
	b.ResetTimer()
	for range b.N { // not b.Loop: its single run ignores -cpu (golang/go#49980)
		v, err := verify.Bundle(context.Background(), bytes.NewReader(data), cfg)
		if err != nil || !v.Valid() {
			b.Fatalf("verify: %v", err)
		}
	}
	b.StopTimer()
	cpu := cputime.Self() - cpu0
	runtime.ReadMemStats(&ms1)
	n := float64(b.N) * benchEnvelopes
	b.ReportMetric(n/b.Elapsed().Seconds(), "envelopes/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/envelope")
	b.ReportMetric(float64(len(data))/benchEnvelopes, "bytes/envelope")
	// CPU time per envelope and cores kept busy: on a shared machine the
	// wall-clock rate swings with the neighbours, these much less.
	b.ReportMetric(cpu.Seconds()*1e6/n, "cpu-µs/envelope")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
}

// BenchmarkVerify verifies an unsigned bundle: all seven phases but the
// signatures.
func BenchmarkVerify(b *testing.B) { benchVerify(b, false) }

// BenchmarkVerifySigned verifies a bundle signed by one key against a trust
// root: content hashes and Ed25519 signatures are checked on all cores.
// Compare -cpu 1 with -cpu 2.
func BenchmarkVerifySigned(b *testing.B) { benchVerify(b, true) }

// BenchmarkVerifyRSS runs the arxi-verify binary over a 200,000-envelope
// bundle (the default limit; 1 KiB envelopes in four segments) and reports
// its peak resident set size, which must stay under 64 MiB: plain and
// unsigned, then zstd-compressed and signed, checked against a trust root.
// It builds the binary and the bundles first (about 600 MB in a temporary
// directory); run it with -benchtime 1x.
func BenchmarkVerifyRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("verifies 200,000 envelopes")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "arxi-verify")
	build := exec.Command("go", "build", "-o", bin, "arxi.dev/arxi/cmd/arxi-verify")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	root := filepath.Join(dir, "root.json")
	if err := os.WriteFile(root, bundletest.TrustRoot("any_trusted_key", bundletest.Key(1)), 0o644); err != nil {
		b.Fatal(err)
	}
	const n = 200_000
	for _, tc := range []struct {
		name string
		zstd bool
		keys []*signing.Key
		args []string
	}{
		{"plain", false, nil, nil},
		{"zstd-signed", true, []*signing.Key{bundletest.Key(1)}, []string{"--trust-root", root}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			path := filepath.Join(dir, tc.name+".arxb")
			if err := writeBigBundle(path, n, tc.zstd, tc.keys); err != nil {
				b.Fatal(err)
			}
			defer os.Remove(path)
			b.ResetTimer()
			for range b.N { // not b.Loop: its single run ignores -cpu (golang/go#49980)
				cmd := exec.Command(bin, append(append([]string{"--progress", "never"}, tc.args...), path)...)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, os.Stderr
				if err := cmd.Run(); err != nil {
					b.Fatalf("arxi-verify: %v\n%s", err, out.Bytes())
				}
				rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB on Linux
				b.ReportMetric(rss, "peak-RSS-MiB")
				b.ReportMetric(n/b.Elapsed().Seconds(), "envelopes/s")
				if rss >= 64 {
					b.Errorf("arxi-verify peaked at %.1f MiB, want under 64", rss)
				}
			}
		})
	}
}

// writeBigBundle seals n events (signed by keys) into a temporary stream
// and bundles it whole into path, zstd-compressed if asked.
func writeBigBundle(path string, n int, compress bool, keys []*signing.Key) error {
	sf, err := os.CreateTemp(filepath.Dir(path), "stream")
	if err != nil {
		return err
	}
	defer os.Remove(sf.Name())
	defer sf.Close()
	if err := bundletest.Bench(sf, n, 50_000, keys...); err != nil {
		return err
	}
	if _, err := sf.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sp, err := bundle.Spool(context.Background(), sf, bundle.SpoolConfig{Dir: filepath.Dir(path)})
	if err != nil {
		return err
	}
	defer sp.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	var w io.Writer = out
	var zw io.WriteCloser
	if compress {
		if zw, err = zstdio.NewWriter(out); err != nil {
			return err
		}
		w = zw
	}
	_, err = bundle.Build(context.Background(), sp, bundle.Selector{All: true}, w, bundle.Options{TempDir: filepath.Dir(path)})
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
