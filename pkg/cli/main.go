package cli

import (
	"context"
	"io"

	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"

	"arxi.dev/arxi/internal/ctxwait"
)

// RunFunc is a binary's testable entry point.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// GCPercent and MemoryLimit tune the garbage collector of every binary
// (unless the environment sets GOGC or GOMEMLIMIT). The binaries stream:
// they allocate a little per line and keep almost nothing, so the default
// GOGC of 100 collects every few megabytes, a tenth of a run. 400 collects
// a quarter as often; the soft limit makes it collect sooner again when a
// heap nears 48 MiB, so peak memory stays what it was for large inputs.
const (
	GCPercent   = 400
	MemoryLimit = 48 << 20
)

// TuneGC sets GCPercent and the soft memory limit, unless the
// environment sets GOGC or GOMEMLIMIT.
func TuneGC(limit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// Main runs run over the process's arguments and standard streams and
// exits with its status (SPEC §13):
//
//   - SIGINT or SIGTERM cancels run's context, and a read of stdin that
//     is waiting returns at once (context.Canceled), so run ends
//     promptly, removes what it had not finished writing, and reports
//     nothing; the process exits 130 (SIGINT) or 143 (SIGTERM);
//   - a second signal exits at once.
func Main(run RunFunc) {
	TuneGC(MemoryLimit)
	growPipes(os.Stdin, os.Stdout)
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var got atomic.Int32
	go func() {
		s := <-sigs
		got.Store(int32(exitFor(s)))
		cancel()
		s = <-sigs
		os.Exit(exitFor(s))
	}()
	code := run(ctx, os.Args[1:], Interruptible(ctx, os.Stdin), os.Stdout, os.Stderr)
	if s := got.Load(); s != 0 {
		code = int(s)
	}
	os.Exit(code)
}

func exitFor(s os.Signal) int {
	if s == syscall.SIGTERM {
		return ExitTerminated
	}
	return ExitInterrupted
}

// Interruptible returns f as a reader whose Read returns context.Canceled
// as soon as ctx ends, even while the read it started waits (on a
// terminal, a pipe or a FIFO). A regular file, whose reads never wait, is
// returned as it is. The reader keeps f's Fd, so terminals are still
// recognised.
func Interruptible(ctx context.Context, f *os.File) io.Reader {
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		return f
	}
	return &ctxReader{ctx: ctx, f: f}
}

type ctxReader struct {
	ctx context.Context
	f   *os.File
	buf []byte
	err error
}

type readResult struct {
	n   int
	err error
}

// Fd returns the file's descriptor.
func (r *ctxReader) Fd() uintptr { return r.f.Fd() }

func (r *ctxReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// The read runs in its own goroutine, into a buffer it owns: after an
	// interrupt it may still complete, and must not write into p.
	if cap(r.buf) < len(p) {
		r.buf = make([]byte, len(p))
	}
	buf := r.buf[:len(p)]
	res, err := ctxwait.Do(r.ctx, func() (readResult, error) {
		n, err := r.f.Read(buf)
		return readResult{n, err}, nil
	}, nil)
	if err != nil {
		r.buf, r.err = nil, err
		return 0, err
	}
	return copy(p, buf[:res.n]), res.err
}
