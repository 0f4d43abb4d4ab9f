// Package zstdio is Arxi's zstd codec: the one place that compresses
// bundles and decompresses bundles and streams (SPEC §9.1).
//
// With cgo it uses github.com/DataDog/zstd (the reference C library); a
// build with CGO_ENABLED=0 uses the pure-Go github.com/klauspost/compress/zstd
// behind the same API, so an air-gapped or cross-compiled arxi-verify still
// reads compressed bundles. Both produce standard zstd frames that either
// one (and the zstd command) reads; the compressed bytes of the two builds
// differ, the decompressed bytes never do. Hashes never cover compressed
// bytes.
//
// # Reading untrusted input
//
// Readers detect zstd by its magic bytes (28 B5 2F FD), so callers never
// trust a file name. Before any byte reaches the decoder, a frame guard
// walks the frame and block headers of the compressed input and rejects
//
//   - frames that need a window larger than MaxWindow (8 MiB, what zstd -19
//     uses), so decompression holds at most about MaxWindow plus one 128 KiB
//     block in memory whatever the input claims;
//   - dictionary frames, skippable frames, legacy formats, reserved bits
//     and oversized blocks;
//   - input that ends inside a frame (a truncated file), which the C
//     library would otherwise report as a clean end of input.
//
// Decompressed output is read in small chunks; the line size is bounded by
// the stream reader above it (SPEC §16), so no input can make a reader hold
// more than one bounded line, one window and one block.
//
// Corrupt compressed input is input.zstd (exit 3); a failure of the
// underlying reader is io.failed.
package zstdio

import (
	"bytes"
	"errors"
	"io"

	"arxi.dev/arxi/pkg/errcode"
)

// Magic is the zstd frame magic number as it appears in a file.
var Magic = []byte{0x28, 0xB5, 0x2F, 0xFD}

// MaxWindow is the largest window a frame may ask a reader for.
const MaxWindow = 8 << 20

// Level is the compression level writers use: zstd's default, 3. On
// bundles, higher levels gain about one percent of size for a fifth of the
// speed (the hex digests in every record do not compress much further);
// level 3 runs at several hundred MB/s, far above the rate bundles are built
// at. Its window is at most 8 MiB, within MaxWindow.
const Level = 3

// IsZstd reports whether b starts with the zstd magic number.
func IsZstd(b []byte) bool { return bytes.HasPrefix(b, Magic) }

// Auto returns a reader of r's content, decompressed when it starts with
// the zstd magic number, as it is otherwise. Nothing is read from r before
// the first Read, whose errors include detection's. The decoder is
// released when the input ends or fails, or by Close; Close does not
// close r. Stream readers read through it, so every one of them accepts
// zstd (SPEC §9.1).
func Auto(r io.Reader) io.ReadCloser { return &auto{src: r} }

type auto struct {
	src io.Reader
	r   io.Reader // set by the first Read
	dec io.ReadCloser
}

func (a *auto) Read(p []byte) (int, error) {
	if a.r == nil {
		var head [4]byte
		n, err := io.ReadFull(a.src, head[:])
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, err
		}
		in := io.MultiReader(bytes.NewReader(head[:n]), a.src)
		if !IsZstd(head[:n]) {
			a.r = in
		} else if a.dec, err = NewReader(in); err != nil {
			a.r = errReader{err}
		} else {
			a.r = a.dec
		}
	}
	n, err := a.r.Read(p)
	if err != nil {
		a.Close()
		a.r = errReader{err} // the same error again, from nothing released
	}
	return n, err
}

func (a *auto) Close() error {
	if a.dec == nil {
		return nil
	}
	d := a.dec
	a.dec = nil
	return d.Close()
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// NewReader returns a reader that decompresses r, which must hold zstd
// frames and nothing else. Close releases the decoder; it does not close r.
func NewReader(r io.Reader) (io.ReadCloser, error) {
	g := &guard{r: r, maxWindow: MaxWindow}
	d, err := newDecoder(g)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "start zstd decoder")
	}
	return &reader{g: g, d: d}, nil
}

// reader decodes frame after frame, each with a fresh decoder, and maps
// decoder errors to Arxi's codes.
type reader struct {
	g   *guard
	d   io.ReadCloser
	err error
}

func (r *reader) Read(p []byte) (int, error) {
	for r.err == nil {
		n, err := r.d.Read(p)
		switch {
		case err == nil || n > 0 && errors.Is(err, io.EOF):
			return n, nil
		case !errors.Is(err, io.EOF):
			r.err = classify(err)
		case !r.g.next():
			r.err = io.EOF // never a wrapped EOF
		default: // the next frame
			r.d.Close()
			if r.d, err = newDecoder(r.g); err != nil {
				r.err = errcode.Wrap(errcode.Internal, err, "start zstd decoder")
			}
		}
	}
	return 0, r.err
}

func (r *reader) Close() error { return r.d.Close() }

// classify turns a decoder error into input.zstd, or io.failed when the
// underlying reader failed. The guard's own errors pass through.
func classify(err error) error {
	var se *sourceError
	if errors.As(err, &se) {
		return &errcode.Error{Code: errcode.IOFailed, Msg: "read input", Err: se.err}
	}
	if e, ok := errcode.As(err); ok {
		return e
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errcode.New(errcode.InputZstd, "compressed input ends inside a frame (truncated?)")
	}
	return errcode.Wrap(errcode.InputZstd, err, "corrupt compressed input")
}

// NewWriter returns a writer that compresses to w at Level. Close ends the
// frame; it does not close w. Output is deterministic for a given build: it
// depends on the bytes written, not on how they were split into writes.
func NewWriter(w io.Writer) (io.WriteCloser, error) {
	enc, err := newEncoder(w, Level)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "start zstd encoder")
	}
	return writer{enc}, nil
}

// writer shows only Write and Close of an encoder. The pure-Go encoder's
// ReadFrom, which io.Copy would use, first ends a block with what earlier
// writes left, so the frame would depend on how its bytes arrived.
type writer struct{ io.WriteCloser }
