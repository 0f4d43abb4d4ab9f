package main

import (
	"context"
	"io"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/store/sqlite"
)

// storeBundle exports from the SQLite store at path, read-only through one
// consistent snapshot (it never waits for, nor blocks, the store's writer).
// The snapshot verifies every row it reads.
func storeBundle(ctx context.Context, path string, sel bundle.Selector, dst output, opts bundle.Options) error {
	s, err := sqlite.OpenReader(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer sn.Close()
	return dst.write(func(w io.Writer) error {
		_, err := bundle.Build(ctx, storesource.New(sn), sel, w, opts)
		return err
	})
}
