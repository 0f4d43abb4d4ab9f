package main

import (
	"context"
	"errors"
	"io/fs"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
)

// storeStart sets cfg.Start from the store at path (SPEC §7): continue its
// open segment from its head, or, with open, start a new segment linked to
// its last sealed one. It only reads, so it works while arxi-append holds
// the store's writer lock. A store that does not exist yet is an empty
// store for --open, so a first pipeline can create it:
//
//	arxi-seal --store new.db --open < events | arxi-append --store new.db
func storeStart(ctx context.Context, cfg *sealing.Config, path string, open bool) error {
	if path == "" {
		if open {
			return &errcode.Error{Code: errcode.UsageInvalid, Msg: "--open needs --store"}
		}
		return nil
	}
	if cfg.Start.Predecessor != nil {
		return &errcode.Error{Code: errcode.UsageInvalid, Msg: "--store and --predecessor-segment/--predecessor-head exclude each other",
			Hint: "with --store, the store says what the chain continues from"}
	}
	s, err := sqlite.OpenReader(ctx, path)
	if errors.Is(err, fs.ErrNotExist) && open {
		return nil
	}
	if err != nil {
		return err
	}
	defer s.Close()
	cfg.Start, err = (&store.Source{Store: s, Open: open}).Start(ctx)
	return err
}
