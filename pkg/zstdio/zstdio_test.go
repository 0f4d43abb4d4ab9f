package zstdio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"arxi.dev/arxi/pkg/errcode"
)

func compress(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readAll(r io.Reader) ([]byte, error) {
	rc := Auto(r)
	defer rc.Close()
	return io.ReadAll(rc)
}

// sample is NDJSON-like text big enough to span several zstd blocks.
func sample() []byte {
	var b bytes.Buffer
	for i := range 20000 {
		b.WriteString(`{"i":`)
		b.WriteString(strings.Repeat("x", i%97))
		b.WriteString("}\n")
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, data := range [][]byte{[]byte("x\n"), sample()} {
		z := compress(t, data)
		if !IsZstd(z) {
			t.Fatalf("compressed output does not start with the zstd magic: % x", z[:4])
		}
		got, err := readAll(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("read back (%s): %v", Codec, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip changed %d bytes into %d", len(data), len(got))
		}
		// Deterministic for a given build.
		if z2 := compress(t, data); !bytes.Equal(z, z2) {
			t.Errorf("compressing twice gave different bytes")
		}
		// Read in one-byte steps, as a slow pipe delivers it.
		got, err = readAll(iotest.OneByteReader(bytes.NewReader(z)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("one-byte reads: err %v, equal %v", err, bytes.Equal(got, data))
		}
	}
}

// TestWriteSplits: the frame depends on the bytes written, not on how they
// were split: one write, many small ones, and a write followed by io.Copy
// from a reader without WriteTo (so that io.Copy would use the pure-Go
// encoder's ReadFrom) give the same bytes.
func TestWriteSplits(t *testing.T) {
	for _, data := range [][]byte{[]byte("x\n"), sample()} {
		want := compress(t, data)
		for name, write := range map[string]func(io.Writer) error{
			"small writes": func(w io.Writer) error {
				_, err := io.Copy(w, iotest.HalfReader(bytes.NewReader(data)))
				return err
			},
			"write then copy": func(w io.Writer) error {
				if _, err := w.Write(data[:1]); err != nil {
					return err
				}
				_, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(data[1:])})
				return err
			},
		} {
			var b bytes.Buffer
			w, err := NewWriter(&b)
			if err != nil {
				t.Fatal(err)
			}
			if err := write(w); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s (%s): %d bytes, one write gave %d", name, Codec, b.Len(), len(want))
			}
		}
	}
}

// TestAuto: plain input passes through as it is, however short; zstd
// input is decompressed; a failing source fails the first Read.
func TestAuto(t *testing.T) {
	for _, in := range []string{"", "{", "\x28\xb5", "{\"a\":1}\n"} {
		got, err := io.ReadAll(Auto(iotest.OneByteReader(strings.NewReader(in))))
		if err != nil || string(got) != in {
			t.Errorf("Auto(%q) read %q, %v", in, got, err)
		}
	}
	data := []byte(strings.Repeat("{\"a\":1}\n", 1000))
	rc := Auto(bytes.NewReader(compress(t, data)))
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Auto(zstd): %v, equal %v", err, bytes.Equal(got, data))
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close after EOF: %v", err)
	}
	boom := errors.New("boom")
	if _, err := Auto(iotest.ErrReader(boom)).Read(make([]byte, 10)); !errors.Is(err, boom) {
		t.Errorf("failing source: %v", err)
	}
}

// frame builds a zstd frame header with the given descriptor and header
// bytes followed by blocks.
func frame(desc byte, header []byte, blocks ...[]byte) []byte {
	b := append([]byte{}, Magic...)
	b = append(b, desc)
	b = append(b, header...)
	for _, bl := range blocks {
		b = append(b, bl...)
	}
	return b
}

// blockHeader is a 3-byte block header.
func blockHeader(size uint32, typ uint32, last bool) []byte {
	h := size<<3 | typ<<1
	if last {
		h |= 1
	}
	return []byte{byte(h), byte(h >> 8), byte(h >> 16)}
}

// rawBlock is a last raw block holding data.
func rawBlock(data []byte, last bool) []byte {
	h := uint32(len(data)) << 3
	if last {
		h |= 1
	}
	var hb [4]byte
	binary.LittleEndian.PutUint32(hb[:], h)
	return append(hb[:3], data...)
}

func TestGuard(t *testing.T) {
	good := compress(t, sample())
	windowOf := func(log int) byte { return byte(log-10) << 3 }
	hello := rawBlock([]byte("hello\n"), true)
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"raw block, 1 MiB window", frame(0, []byte{windowOf(20)}, hello), true},
		{"raw block, 8 MiB window", frame(0, []byte{windowOf(23)}, hello), true},
		{"16 MiB window", frame(0, []byte{windowOf(24)}, hello), false},
		{"2 GiB window", frame(0, []byte{windowOf(31)}, hello), false},
		{"single segment, content size 6", frame(0x20, []byte{6}, hello), true},
		{"single segment, 4 GiB content", frame(0xA0, []byte{0, 0, 0, 0xFF}, hello), false},
		{"reserved bit", frame(0x08, []byte{windowOf(20)}, hello), false},
		{"dictionary", frame(0x01, []byte{windowOf(20), 7}, hello), false},
		{"reserved block type", frame(0, []byte{windowOf(20)}, []byte{0x07, 0, 0}), false},
		{"block over 128 KiB", frame(0, []byte{windowOf(20)}, blockHeader(200<<10, 2, true)), false},
		{"skippable frame", append([]byte{0x50, 0x2A, 0x4D, 0x18, 0, 0, 0, 0}, good...), false},
		{"truncated in a block", good[:len(good)/2], false},
		{"truncated in the header", good[:5], false},
		{"trailing garbage", append(append([]byte{}, good...), "garbage"...), false},
		{"two frames", append(append([]byte{}, good...), good...), true},
		{"corrupt block", corrupt(good), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := NewReader(bytes.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			_, err = io.ReadAll(rc)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("read: %v", err)
			case !tc.ok && err == nil:
				t.Fatalf("read succeeded, want input.zstd")
			case !tc.ok && errcode.CodeOf(err) != errcode.InputZstd:
				t.Fatalf("read: %v, want input.zstd", err)
			}
		})
	}
}

// corrupt flips bytes in the middle of a compressed block.
func corrupt(z []byte) []byte {
	c := append([]byte{}, z...)
	for i := len(c) / 2; i < len(c)/2+16; i++ {
		c[i] ^= 0x5A
	}
	return c
}

func TestSourceError(t *testing.T) {
	z := compress(t, sample())
	boom := errors.New("disk on fire")
	_, err := readAll(io.MultiReader(bytes.NewReader(z[:100]), iotest.ErrReader(boom)))
	if errcode.CodeOf(err) != errcode.IOFailed || !errors.Is(err, boom) {
		t.Fatalf("read = %v, want io.failed wrapping the source's error", err)
	}
}

// FuzzReader feeds arbitrary bytes after the zstd magic: decompression
// never panics, never reports success for input the guard rejects, and
// never produces more than the window and block limits allow per byte of
// input times the maximal expansion of one block.
func FuzzReader(f *testing.F) {
	f.Add(compress(f, []byte("hello\n")))
	f.Add(compress(f, sample()[:5000]))
	f.Add(frame(0, []byte{0x50}, rawBlock([]byte("x"), true)))
	f.Fuzz(func(t *testing.T, in []byte) {
		rc, err := NewReader(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		n, err := io.Copy(io.Discard, io.LimitReader(rc, 64<<20))
		if err == nil && n == 64<<20 {
			return // a small input may legitimately expand a lot (RLE)
		}
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.InputZstd {
				t.Fatalf("error %v has code %s, want input.zstd", err, c)
			}
		}
	})
}
