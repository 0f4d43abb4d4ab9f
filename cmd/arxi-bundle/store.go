package main

import (
	"context"
	"io"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
)

// storeBundle exports from the store at path (a file or a URL), read-only through one
// consistent snapshot (it never waits for, nor blocks, the store's writer):
// the bundle of sel, or with a non-zero id the canonical bundle with that
// id. The snapshot verifies every row it reads.
func storeBundle(ctx context.Context, path string, id scalar.UUID, sel bundle.Selector, dst output, opts bundle.Options) error {
	return backend.InSnapshot(ctx, path, func(sn *store.Snapshot) error {
		if !id.IsZero() {
			// Find first, so that an unknown id creates no output file.
			var c storesource.Catalog
			if _, err := c.Find(ctx, sn, id); err != nil {
				return err
			}
			return dst.write(ctx, func(w io.Writer) error { return c.Fetch(ctx, sn, id, w, opts) })
		}
		return dst.write(ctx, func(w io.Writer) error {
			_, err := bundle.Build(ctx, storesource.New(sn), sel, w, opts)
			return err
		})
	})
}
