package safefile

import (
	"io"
	"math"
	"os"
)

// writeback is the temporary file of writeAtomic as fill writes it: each
// time another writebackChunk bytes are written, the kernel is asked to
// start writing them to disk (startWriteback), so that the disk writes
// while fill goes on, and the sync before the rename waits for the last
// chunk rather than for the whole file. Durability is unchanged: nothing
// is renamed before the sync.
type writeback struct {
	f       *os.File
	start   func(f *os.File, off, n int64) // startWriteback; tests record the calls
	written int64                          // bytes written, from offset 0 on
	started int64                          // bytes whose writeback has been started
}

func newWriteback(f *os.File) *writeback { return &writeback{f: f, start: startWriteback} }

// writebackChunk is the size of the runs whose writeback is started.
const writebackChunk = 8 << 20

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.advance(int64(n))
	return n, err
}

// ReadFrom copies r in chunks through the file's own ReadFrom, which
// copies file to file in the kernel (copy_file_range) when r is a file
// or a file behind an io.LimitedReader.
func (w *writeback) ReadFrom(r io.Reader) (total int64, err error) {
	src, left := r, int64(math.MaxInt64)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, left = lr.R, lr.N
		defer func() { lr.N -= total }()
	}
	for left > 0 {
		want := min(left, writebackChunk)
		n, err := w.f.ReadFrom(&io.LimitedReader{R: src, N: want})
		total, left = total+n, left-n
		w.advance(n)
		if err != nil || n < want {
			return total, err
		}
	}
	return total, nil
}

func (w *writeback) advance(n int64) {
	w.written += n
	if w.written-w.started >= writebackChunk {
		w.start(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
}
