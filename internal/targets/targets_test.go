package targets

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/internal/storebench"
	_ "modernc.org/sqlite"
)

// N is the number of events of every measurement.
const N = 100_000

type fixture struct {
	dir    string
	bin    string
	events string // N unsealed lines
	sealed string // arxi-seal --seal-at-end of events
	store  string // arxi-append of sealed
	bundle string // arxi-bundle --store --all of store
	sha256 string // path of sha256sum, "" if absent
	signed string // a signed bundle of NSigned events
	root   string // its trust root
}

// NSigned is the number of events of the signed verification, which costs
// a signature check each.
const NSigned = 20_000

var fx *fixture

func setup(b *testing.B) *fixture {
	b.Helper()
	if fx != nil {
		return fx
	}
	dir, err := os.MkdirTemp("", "arxi-targets-")
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{dir: dir, bin: filepath.Join(dir, "bin")}
	build := exec.Command("go", "build", "-o", f.bin+"/", "arxi.dev/arxi/cmd/...")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	f.events = filepath.Join(dir, "events.ndjson")
	data := events.Bench.Lines(0, N)
	if err := os.WriteFile(f.events, data, 0o644); err != nil {
		b.Fatal(err)
	}
	data = nil
	f.sealed = filepath.Join(dir, "sealed.ndjson")
	f.store = filepath.Join(dir, "store.db")
	f.bundle = filepath.Join(dir, "all.arxb")
	f.run(b, f.events, f.sealed, "arxi-seal", "--recorder-id", "bench", "--seal-at-end")
	f.run(b, "", os.DevNull, "arxi-append", "--store", f.store, f.sealed)
	f.run(b, "", os.DevNull, "arxi-bundle", "--store", f.store, "--all", "-o", f.bundle)
	key := filepath.Join(dir, "key.pem")
	f.run(b, "", filepath.Join(dir, "key.json"), "arxi-seal", "keygen", "--insecure-plain-key", "-o", key)
	entry, err := os.ReadFile(filepath.Join(dir, "key.json"))
	if err != nil {
		b.Fatal(err)
	}
	f.root = filepath.Join(dir, "root.json")
	if err := os.WriteFile(f.root, fmt.Appendf(nil, `{"keys":[%s],"policy":{"kind":"any_trusted_key"},"trust_root_version":1}`, bytes.TrimSpace(entry)), 0o644); err != nil {
		b.Fatal(err)
	}
	few := filepath.Join(dir, "few.ndjson")
	if err := os.WriteFile(few, events.Bench.Lines(0, NSigned), 0o644); err != nil {
		b.Fatal(err)
	}
	signed := filepath.Join(dir, "signed.ndjson")
	f.run(b, few, signed, "arxi-seal", "--recorder-id", "bench", "--seal-at-end", "--sign-key", key, "--insecure-plain-key")
	f.signed = filepath.Join(dir, "signed.arxb")
	f.run(b, signed, os.DevNull, "arxi-bundle", "--from-stream", "-o", f.signed)
	if p, err := exec.LookPath("sha256sum"); err == nil {
		f.sha256 = p
	}
	debug.FreeOSMemory()
	fx = f
	return f
}

// run runs a binary of the toolkit (or, with a path, any program) with
// stdin from in ("" for none) and stdout to out, and returns its wall
// time, CPU time and peak RSS. The program is started by a fresh copy of
// this test binary (see TestMain): Linux counts the memory of the process
// that forks into a child's peak RSS, and this one holds the fixture.
func (f *fixture) run(b *testing.B, in, out, name string, args ...string) (wall, cpu time.Duration, rss float64) {
	b.Helper()
	path := name
	if !filepath.IsAbs(name) {
		path = filepath.Join(f.bin, name)
	}
	usage := filepath.Join(f.dir, "rusage")
	cmd := exec.Command(os.Args[0], append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), starter+"="+usage)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if in != "" {
		r, err := os.Open(in)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		cmd.Stdin = r
	}
	w, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	cmd.Stdout = w
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, stderr.Bytes())
	}
	wall = time.Since(start)
	var cpuNS, maxrss int64
	data, err := os.ReadFile(usage)
	if _, err2 := fmt.Sscan(string(data), &cpuNS, &maxrss); err != nil || err2 != nil {
		b.Fatalf("%s: no resource usage: %v %v", name, err, err2)
	}
	return wall, time.Duration(cpuNS), float64(maxrss) / 1024
}

// starter names the environment variable that makes the test binary start
// a program and write its CPU time (ns) and peak RSS (KiB) to a file.
const starter = "ARXI_TARGETS_RUSAGE"

// start is the test binary as a starter: it runs os.Args[1:] with its own
// standard streams and writes the child's resource usage.
func start(usage string) int {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	os.WriteFile(usage, fmt.Appendf(nil, "%d %d\n", ru.Utime.Nano()+ru.Stime.Nano(), ru.Maxrss), 0o644)
	return cmd.ProcessState.ExitCode()
}

// insert is the baseline: the lines of file into a plain SQLite table
// (storebench.InsertPlain) in batches of 1000.
func (f *fixture) insert(b *testing.B, file string) (time.Duration, int64) {
	b.Helper()
	path := filepath.Join(f.dir, "plain.db")
	removeDB(path)
	defer removeDB(path)
	in, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	d := storebench.InsertPlain(b, path, func() ([]byte, bool) {
		if !sc.Scan() {
			return nil, false
		}
		return sc.Bytes(), true
	}, 1000)
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return d, dbSize(path)
}

func removeDB(path string) {
	for _, s := range []string{"", "-wal", "-shm", "-lock"} {
		os.Remove(path + s)
	}
}

// dbSize is the size of a database file and its write-ahead log.
func dbSize(path string) int64 {
	var n int64
	for _, s := range []string{"", "-wal"} {
		if st, err := os.Stat(path + s); err == nil {
			n += st.Size()
		}
	}
	return n
}

// alternate runs a baseline and its target back to back, the baseline
// first in even iterations and second in odd ones, so that a machine that
// speeds up or slows down over a pair favours neither.
func alternate(i int, base, target func()) {
	if i%2 == 0 {
		base()
		target()
	} else {
		target()
		base()
	}
}

// signedPairs is the number of one-core and two-core runs of the signed
// verification in an iteration.
const signedPairs = 3

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// series collects one measurement per iteration, and the CPU time the
// machine's host took from it.
type series struct {
	v      map[string][]float64
	start  time.Time
	steal0 time.Duration
}

func newSeries() *series {
	return &series{v: map[string][]float64{}, start: time.Now(), steal0: steal()}
}

func (s *series) add(name string, v float64) { s.v[name] = append(s.v[name], v) }

// report reports each series' median, and steal-%: the share of the CPU
// time over all iterations that a virtual machine's host gave to others
// (from /proc/stat), which tells a noisy run from a slow one.
func (s *series) report(b *testing.B) {
	for name, v := range s.v {
		b.ReportMetric(median(v), name)
	}
	if s.steal0 >= 0 {
		if st := steal(); st >= 0 {
			wall := time.Since(s.start) * time.Duration(runtime.NumCPU())
			b.ReportMetric(100*float64(st-s.steal0)/float64(wall), "steal-%")
		}
	}
}

// steal is the machine's steal time so far, or -1 where /proc/stat does
// not give it.
func steal() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	ticks, err := strconv.ParseInt(f[8], 10, 64)
	if err != nil {
		return -1
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// BenchmarkTargets runs each target and its baseline once per iteration.
// Metrics: envelopes/s of the target, base-envelopes/s of its baseline,
// x-base (target time over baseline time: the issue's "× plain SQLite
// time"; below 1 is faster), cpu-µs/envelope, and for the store the bytes
// per envelope against the plain table's; steal-% is the host's share of
// the machine's CPU time during the sub-benchmark. The append's baseline is the
// insert of the unsealed event lines, as the pipeline's is; x-sealed-base
// is its time over an insert of the sealed lines it reads, which are
// about 40% longer.
func BenchmarkTargets(b *testing.B) {
	f := setup(b)
	b.Run("seal-append", func(b *testing.B) {
		s := newSeries()
		for i := range b.N {
			var base, wall, cpu time.Duration
			store := filepath.Join(f.dir, "p.db")
			script := fmt.Sprintf("set -o pipefail; %s/arxi-seal --recorder-id bench --seal-at-end < %s | %s/arxi-append --store %s > /dev/null",
				f.bin, f.events, f.bin, store)
			alternate(i, func() { base, _ = f.insert(b, f.events) }, func() {
				removeDB(store)
				wall, cpu, _ = f.run(b, "", os.DevNull, "/bin/bash", "-c", script)
				removeDB(store)
			})
			s.add("envelopes/s", N/wall.Seconds())
			s.add("base-envelopes/s", N/base.Seconds())
			s.add("x-base", wall.Seconds()/base.Seconds())
			s.add("cpu-µs/envelope", float64(cpu.Microseconds())/N)
		}
		s.report(b)
	})
	b.Run("append", func(b *testing.B) {
		s := newSeries()
		for i := range b.N {
			var base, sealedBase, wall, cpu time.Duration
			var baseSize, size int64
			var rss float64
			store := filepath.Join(f.dir, "a.db")
			alternate(i, func() {
				base, baseSize = f.insert(b, f.events)
				sealedBase, _ = f.insert(b, f.sealed)
			}, func() {
				removeDB(store)
				wall, cpu, rss = f.run(b, "", os.DevNull, "arxi-append", "--store", store, f.sealed)
				size = dbSize(store)
				removeDB(store)
			})
			s.add("envelopes/s", N/wall.Seconds())
			s.add("base-envelopes/s", N/base.Seconds())
			s.add("x-base", wall.Seconds()/base.Seconds())
			s.add("x-sealed-base", wall.Seconds()/sealedBase.Seconds())
			s.add("cpu-µs/envelope", float64(cpu.Microseconds())/N)
			s.add("bytes/envelope", float64(size)/N)
			s.add("base-bytes/envelope", float64(baseSize)/N)
			s.add("x-base-bytes", float64(size)/float64(baseSize))
			s.add("peak-RSS-MiB", rss)
		}
		s.report(b)
	})
	b.Run("verify", func(b *testing.B) {
		if f.sha256 == "" {
			b.Skip("no sha256sum")
		}
		s := newSeries()
		for i := range b.N {
			var base, wall, cpu time.Duration
			var rss float64
			alternate(i, func() { base, _, _ = f.run(b, "", os.DevNull, f.sha256, f.bundle) }, func() {
				wall, cpu, rss = f.run(b, "", os.DevNull, "arxi-verify", "--progress", "never", f.bundle)
			})
			s.add("envelopes/s", N/wall.Seconds())
			s.add("base-envelopes/s", N/base.Seconds())
			s.add("x-base", wall.Seconds()/base.Seconds())
			s.add("cpu-µs/envelope", float64(cpu.Microseconds())/N)
			s.add("peak-RSS-MiB", rss)
		}
		s.report(b)
	})
	b.Run("verify-signed", func(b *testing.B) {
		s := newSeries()
		verify := func(procs string) func() time.Duration {
			return func() time.Duration {
				os.Setenv("GOMAXPROCS", procs)
				defer os.Unsetenv("GOMAXPROCS")
				wall, _, _ := f.run(b, "", os.DevNull, "arxi-verify", "--progress", "never", "--trust-root", f.root, f.signed)
				return wall
			}
		}
		one, two := verify("1"), verify("2")
		for i := range b.N {
			// A run of NSigned takes about a second, and the ratio of two
			// such runs moves with the machine's speed from one second to
			// the next: each iteration sums signedPairs pairs.
			var walls [2]time.Duration
			for k := range signedPairs {
				alternate(i*signedPairs+k, func() { walls[0] += one() }, func() { walls[1] += two() })
			}
			s.add("envelopes/s", signedPairs*NSigned/walls[1].Seconds())
			s.add("base-envelopes/s", signedPairs*NSigned/walls[0].Seconds())
			s.add("speedup", walls[0].Seconds()/walls[1].Seconds())
		}
		s.report(b)
	})
	for _, bc := range []struct {
		name string
		in   string
		args []string
	}{
		{"bundle-store", "", []string{"--store", f.store, "--all"}},
		{"bundle-stream", f.sealed, []string{"--from-stream"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newSeries()
			out := filepath.Join(f.dir, "out.arxb")
			for i := range b.N {
				var base, wall, cpu time.Duration
				var rss float64
				alternate(i, func() {
					if f.sha256 != "" {
						base, _, _ = f.run(b, "", os.DevNull, f.sha256, f.bundle)
					}
				}, func() {
					wall, cpu, rss = f.run(b, bc.in, os.DevNull, "arxi-bundle", append(bc.args, "-o", out)...)
					os.Remove(out)
				})
				s.add("envelopes/s", N/wall.Seconds())
				if base > 0 {
					s.add("base-envelopes/s", N/base.Seconds())
					s.add("x-base", wall.Seconds()/base.Seconds())
				}
				s.add("cpu-µs/envelope", float64(cpu.Microseconds())/N)
				s.add("peak-RSS-MiB", rss)
			}
			s.report(b)
		})
	}
}

// TestMain runs the benchmarks and removes the fixture; started as a
// starter (see run), it starts a program instead.
func TestMain(m *testing.M) {
	if usage := os.Getenv(starter); usage != "" {
		os.Exit(start(usage))
	}
	code := m.Run()
	if fx != nil {
		os.RemoveAll(fx.dir)
	}
	os.Exit(code)
}
