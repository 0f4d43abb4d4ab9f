package main

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store/backend"
)

// storeStart sets cfg.Start from the store at path (SPEC §7): continue its
// open segment from its head, or, with open, start a new segment linked to
// its last sealed one. It only reads, so it works while arxi-append holds
// the store's writer lock. A store that does not exist yet is an empty
// store for --open, so a first pipeline can create it:
//
//	arxi-seal --store new.db --open < events | arxi-append --store new.db
//
// and arxi-seal says so, in case the path is a typo for an existing store.
//
// A store with a current signing key (SPEC §11.1) takes only envelopes
// signed by it: with another key, or none, storeStart fails with
// key.not_current before anything is read from stdin.
func storeStart(ctx context.Context, c *cli.Command, cfg *sealing.Config, path string, open bool, key *signing.Key) error {
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
	s, err := backend.OpenReader(ctx, path)
	_, serr := os.Lstat(path)
	missing := backend.IsURL(path) || errors.Is(serr, fs.ErrNotExist)
	switch {
	case errors.Is(err, fs.ErrNotExist) && open:
		if missing {
			c.Note("--store %s does not exist: starting a new chain (arxi-append --store %s creates the store)", backend.Display(path), backend.Display(path))
		}
		return nil
	case errors.Is(err, fs.ErrNotExist) && missing:
		return &errcode.Error{Code: errcode.StoreIO, Path: backend.Display(path), Msg: "the store does not exist",
			Hint: "check --store: it must name the store arxi-append writes; to start a new store, add --open (arxi-append creates it)"}
	case err != nil:
		return err
	}
	defer s.Close()
	h, err := s.Head(ctx, open)
	if err != nil {
		return err
	}
	var ids []scalar.KeyID
	if key != nil {
		ids = append(ids, key.KeyID())
	}
	if err := h.CheckSigners(ids); err != nil {
		return errcode.WithPath(err, backend.Display(path))
	}
	cfg.Start = sealing.Continue(h.Genesis, h.Chain, h.LastClaimedAt, h.Last)
	return nil
}
