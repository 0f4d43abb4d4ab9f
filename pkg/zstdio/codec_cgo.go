//go:build cgo

package zstdio

import (
	"io"

	"github.com/DataDog/zstd"
)

// Codec names the zstd implementation of this build.
const Codec = "github.com/DataDog/zstd (cgo)"

func newDecoder(r io.Reader) (io.ReadCloser, error) { return zstd.NewReader(r), nil }

func newEncoder(w io.Writer, level int) (io.WriteCloser, error) {
	return zstd.NewWriterLevel(w, level), nil
}
