package bundle

import (
	"errors"
	"io"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/stream"
)

// ReadManifest reads and decodes a bundle's first line, plain or zstd
// (detected by its magic bytes). It reads nothing past the manifest and
// checks nothing else: verify.Bundle checks the bundle against it.
func ReadManifest(r io.Reader) (*Manifest, error) {
	in := stream.NewReader(r, stream.Sealed, evidence.Limits{})
	line, err := in.NextLine()
	if errors.Is(err, io.EOF) {
		return nil, errcode.New(errcode.BundleMalformed, "input is empty")
	}
	if err != nil {
		return nil, err
	}
	if !IsManifest(line) {
		return nil, &errcode.Error{Code: errcode.BundleMalformed, Line: 1, Msg: "the first line is not a bundle manifest",
			Hint: "a sealed stream has no manifest; arxi-verify checks streams too"}
	}
	m, err := ParseManifest(line)
	return m, errcode.AtLine(err, 1)
}
