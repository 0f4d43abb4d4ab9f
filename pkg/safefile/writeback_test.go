package safefile

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteback checks the file writeAtomic's fill writes to: whether by
// writes or copied from a file (whole, behind an io.LimitedReader, or from
// a plain reader), it holds exactly the bytes given, an io.LimitedReader
// is used up by what was copied, and the writeback of every full
// writebackChunk is started once, in order, with nothing left out between
// the runs.
func TestWriteback(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3*writebackChunk+12345)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	type run struct{ off, n int64 }
	for _, tc := range []struct {
		name string
		n    int // bytes that reach the file
		fill func(w io.Writer, f *os.File) error
	}{
		{"writes", len(data), func(w io.Writer, _ *os.File) error {
			for p := data; len(p) > 0; {
				k := min(len(p), 1+rand.IntN(3<<20))
				if _, err := w.Write(p[:k]); err != nil {
					return err
				}
				p = p[k:]
			}
			return nil
		}},
		{"file", len(data), func(w io.Writer, f *os.File) error {
			_, err := io.Copy(w, f)
			return err
		}},
		{"limited", 2*writebackChunk + 7, func(w io.Writer, f *os.File) error {
			lr := &io.LimitedReader{R: f, N: 2*writebackChunk + 7}
			n, err := io.Copy(w, lr)
			if lr.N != 0 || n != 2*writebackChunk+7 {
				t.Errorf("copied %d bytes, %d left to the reader; want all of %d", n, lr.N, 2*writebackChunk+7)
			}
			return err
		}},
		{"limited-beyond-end", len(data), func(w io.Writer, f *os.File) error {
			lr := &io.LimitedReader{R: f, N: int64(len(data)) + 100}
			_, err := io.Copy(w, lr)
			if lr.N != 100 {
				t.Errorf("%d bytes left to the reader, want 100", lr.N)
			}
			return err
		}},
		{"reader", len(data), func(w io.Writer, _ *os.File) error {
			_, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(data)}) // no WriteTo: w's ReadFrom copies
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			out, err := os.Create(filepath.Join(dir, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			var runs []run
			w := newWriteback(out)
			w.start = func(f *os.File, off, n int64) {
				if f != out {
					t.Errorf("writeback started on %s", f.Name())
				}
				runs = append(runs, run{off, n})
			}
			if err := tc.fill(w, in); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[:tc.n]) {
				t.Fatalf("the file holds %d bytes, not the %d given", len(got), tc.n)
			}
			var want []run
			var off int64
			for _, r := range runs { // runs are at least a chunk, contiguous
				if r.off != off || r.n < writebackChunk {
					t.Fatalf("writeback runs %v: not contiguous chunks from 0", runs)
				}
				off += r.n
			}
			if left := int64(tc.n) - off; left < 0 || left >= writebackChunk {
				t.Errorf("writeback started for %d of %d bytes; %d bytes left", off, tc.n, left)
			}
			if tc.name != "writes" { // copies run exactly a chunk at a time
				for i := range tc.n / writebackChunk {
					want = append(want, run{int64(i) * writebackChunk, writebackChunk})
				}
				if diff := cmp.Diff(want, runs, cmp.AllowUnexported(run{})); diff != "" {
					t.Errorf("writeback runs (-want +got):\n%s", diff)
				}
			}
		})
	}
}
