package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"arxi.dev/arxi/internal/cputime"
	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/enterprise/enterprisetest"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
)

// BenchmarkIngest measures the sidecar's durable ingest with a Go load
// generator against the arxi-seal | arxi-append pipeline measured in the
// same run, on the ~1 KiB events of events.Bench, SQLite with synchronous=FULL:
//
//   - pipeline: a sealer goroutine writing a sealed stream into a pipe
//     that store.AppendStream reads, in transactions of 1000 (the filters'
//     work in one process, no HTTP);
//   - single-64: 64 clients each POSTing one envelope per request to
//     /v1/envelopes over the Unix socket, every answer after its commit;
//   - batch1000-64: 64 clients POSTing /v1/envelopes/batch of 1000 lines;
//   - single-64-off and single-64-enforce: single-64 with token auth and
//     the identity headers, in enterprise mode off and enforce, the latter
//     against a control plane on loopback TCP in this process
//     (enterprisetest, counting its calls) that allows everything: the
//     cost of the gate and the hooks, as a ratio to off in the same run.
//
// The sidecar runs as its own process (this binary as arxi-sidecar); its
// peak RSS is its VmHWM. make bench runs it once (-benchtime 1x).
func BenchmarkIngest(b *testing.B) {
	const n = 40_000
	var pipeline float64
	b.Run("pipeline", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
		events := events.Bench.Lines(0, n)
		ctx := context.Background()
		var took, cpu time.Duration
		for range b.N {
			dir := b.TempDir()
			cpu0 := cputime.Self()
			start := time.Now()
			pr, pw := io.Pipe()
			go func() {
				s, _ := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench")})
				_, err := sealing.Stream(ctx, s, bytes.NewReader(events), pw, sealing.StreamOptions{SealAtEnd: true})
				pw.CloseWithError(err)
			}()
			db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "arxi.db")})
			if err != nil {
				b.Fatal(err)
			}
			s, _ := store.Open(ctx, db, store.Config{})
			a, _ := s.Appender(ctx)
			st, err := store.AppendStream(ctx, a, pr, store.AppendOptions{Batch: 1000})
			if err != nil || st.Envelopes != n {
				b.Fatal(err)
			}
			db.Close()
			took += time.Since(start)
			cpu += cputime.Self() - cpu0
		}
		pipeline = float64(n*b.N) / took.Seconds()
		b.ReportMetric(pipeline, "envelopes/s")
		// Both stages' CPU: the figure to set beside the sidecar's.
		b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/envelope")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("single-64", func(b *testing.B) {
		load(b, n, 1, 64, pipeline, loadMode{})
	})
	b.Run("batch1000-64", func(b *testing.B) {
		load(b, 128_000, 1000, 64, pipeline, loadMode{})
	})
	var off loadResult
	b.Run("single-64-off", func(b *testing.B) {
		off = load(b, n, 1, 64, pipeline, loadMode{identity: true})
	})
	b.Run("single-64-enforce", func(b *testing.B) {
		load(b, n, 1, 64, pipeline, loadMode{identity: true, enforce: true, off: off})
	})
}

// loadMode is how load runs the sidecar: with token auth and the
// identity headers, in enterprise mode enforce, with off the same run's
// figures in mode off.
type loadMode struct {
	identity, enforce bool
	off               loadResult
}

// loadResult is what load measured.
type loadResult struct {
	rate, p50, p99 float64
}

// load runs a sidecar and posts total envelopes, per to a request, from
// clients goroutines; it reports envelopes/s, the latency percentiles,
// the mean group commit, the sidecar's peak RSS and the ratio to the
// pipeline's rate.
func load(b *testing.B, total, per, clients int, pipeline float64, mode loadMode) loadResult {
	lines := make([][]byte, total)
	for i := range lines {
		lines[i] = events.Bench.Line(i)
	}
	var took time.Duration
	var lat []time.Duration
	var rss float64
	var cpu, self time.Duration
	var metrics []byte
	var cp *enterprisetest.ControlPlane
	requests := 0
	for range b.N {
		sections := map[string]string{"log": `level = "info"`, "limits": "max_body_bytes = 16777216"}
		var hdr []byte
		if mode.identity {
			sections["auth"] = `mode = "token"` + "\n" + `token_file = "token"`
			for _, h := range identity {
				hdr = append(hdr, h+"\r\n"...)
			}
		}
		if mode.enforce {
			cp = enterprisetest.Start(b, "bench-control-plane-token-0123456789abcdef")
			cp.Counting()
			sections["enterprise"] = `mode = "enforce"` + "\n" + `control_plane_url = "` + cp.URL() + `"` + "\n" + `control_plane_token_file = "cp-token"`
		}
		e := newEnv(b, "unix", sections)
		if mode.identity {
			hdr = append(hdr, "Authorization: Bearer "+e.token+"\r\n"...)
		}
		if cp != nil {
			os.WriteFile(filepath.Join(e.dir, "cp-token"), []byte(cp.Token), 0o600)
		}
		p := e.start(b)
		path := "/v1/envelopes"
		ctype := "application/json"
		if per > 1 {
			path, ctype = "/v1/envelopes/batch", "application/x-ndjson"
		}
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		sock := filepath.Join(e.dir, "arxi.sock")
		self0 := cputime.Self()
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dialRaw(sock)
				if err != nil {
					b.Error(err)
					return
				}
				c.hdr = hdr
				defer c.Close()
				var mine []time.Duration
				for {
					i := int(next.Add(int64(per))) - per
					if i >= total {
						break
					}
					var body []byte
					if per == 1 {
						body = bytes.TrimSuffix(lines[i], []byte("\n"))
					} else {
						body = bytes.Join(lines[i:min(i+per, total)], nil)
					}
					t0 := time.Now()
					status, resp, err := c.post(path, ctype, body)
					if err != nil || status != 201 {
						b.Errorf("%s: %v %d %.200s", path, err, status, resp)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		took += time.Since(start)
		self += cputime.Self() - self0
		requests += (total + per - 1) / per
		metrics = p.do("GET", "/metrics", nil).body
		rss = max(rss, peakRSS(p.cmd.Process.Pid))
		cpu += cputime.Of(p.cmd.Process.Pid)
		if p.stop(syscall.SIGTERM) != 0 {
			b.Fatal(p.logText())
		}
	}
	rate := float64(total*b.N) / took.Seconds()
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(rate, "envelopes/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(metric(metrics, "arxi_sidecar_group_commit_envelopes_sum")/metric(metrics, "arxi_sidecar_group_commit_envelopes_count"), "group-envelopes")
	b.ReportMetric(metric(metrics, "arxi_sidecar_group_commit_requests_sum")/metric(metrics, "arxi_sidecar_group_commit_requests_count"), "group-requests")
	// The store's Commit, fsync included: what a group waits for.
	b.ReportMetric(1000*metric(metrics, "arxi_sidecar_commit_duration_seconds_sum")/metric(metrics, "arxi_sidecar_commit_duration_seconds_count"), "commit-ms")
	b.ReportMetric(rss, "peak-RSS-MiB")
	// CPU time does not count waiting for the disk or for other work on
	// a shared machine: the steadier figure.
	b.ReportMetric(float64(cpu.Microseconds())/float64(total*b.N), "sidecar-cpu-µs/envelope")
	// This process's: the load generator's, and the control plane's in
	// enforce mode, on the same two cores.
	b.ReportMetric(float64(self.Microseconds())/float64(total*b.N), "bench-cpu-µs/envelope")
	if pipeline > 0 {
		b.ReportMetric(rate/pipeline, "ratio-to-pipeline")
	}
	res := loadResult{rate, pct(0.50), pct(0.99)}
	if mode.enforce {
		// The gate's one round trip, and the hooks' two.
		b.ReportMetric(float64(cp.Count(api.PathAuthorize))/float64(requests), "authorize-calls/request")
		b.ReportMetric(float64(cp.Count(api.PathAuthorize)+cp.Count(api.PathHooks))/float64(requests), "control-plane-calls/request")
		b.ReportMetric(float64(cp.Conns()), "control-plane-connections")
		if mode.off.rate > 0 {
			b.ReportMetric(rate/mode.off.rate, "ratio-to-off")
			b.ReportMetric(res.p50-mode.off.p50, "p50-added-ms")
			b.ReportMetric(res.p99-mode.off.p99, "p99-added-ms")
		}
	}
	b.ReportMetric(0, "ns/op")
	return res
}

// metric reads one sample of the Prometheus text.
func metric(text []byte, name string) float64 {
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// peakRSS is a process's peak resident set (VmHWM) in MiB.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// rawConn is the load generator's client: one keep-alive HTTP/1.1
// connection, requests written and responses parsed by hand, so that the
// generator spends as little of the machine's two cores as it can.
type rawConn struct {
	c   net.Conn
	r   *bufio.Reader
	req []byte
	hdr []byte // more header lines, each ending in CRLF
}

func dialRaw(sock string) (*rawConn, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

func (c *rawConn) Close() error { return c.c.Close() }

// post sends one request and reads its response.
func (c *rawConn) post(path, ctype string, body []byte) (int, []byte, error) {
	c.req = append(c.req[:0], "POST "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: sidecar\r\nContent-Type: "...)
	c.req = append(c.req, ctype...)
	c.req = append(c.req, "\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n"...)
	c.req = append(c.req, c.hdr...)
	c.req = append(c.req, "\r\n"...)
	c.req = append(c.req, body...)
	if _, err := c.c.Write(c.req); err != nil {
		return 0, nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil || len(line) < 12 {
		return 0, nil, fmt.Errorf("status line %q: %v", line, err)
	}
	status, _ := strconv.Atoi(string(line[9:12]))
	n := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(h) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return 0, nil, fmt.Errorf("no Content-Length")
	}
	resp := make([]byte, n)
	_, err = io.ReadFull(c.r, resp)
	return status, resp, err
}
