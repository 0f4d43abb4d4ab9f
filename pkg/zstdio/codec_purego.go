//go:build !cgo

package zstdio

import (
	"io"

	"github.com/klauspost/compress/zstd"
)

// Codec names the zstd implementation of this build.
const Codec = "github.com/klauspost/compress/zstd (pure Go)"

func newDecoder(r io.Reader) (io.ReadCloser, error) {
	d, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1), // synchronous: no blocks decoded ahead
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxWindow),
		zstd.WithDecoderMaxMemory(MaxWindow),
	)
	if err != nil {
		return nil, err
	}
	return d.IOReadCloser(), nil
}

func newEncoder(w io.Writer, level int) (io.WriteCloser, error) {
	return zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(1), // deterministic, one goroutine
		zstd.WithWindowSize(MaxWindow),
	)
}
