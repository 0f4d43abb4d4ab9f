// Package backend opens a store by its address (SPEC §8, §8.1): a file
// path names an SQLite store, a postgres:// or postgresql:// URL a log of
// a PostgreSQL database. It is the one place that turns an address into a
// store.Backend; every binary's --store (and ARXI_STORE) and the sidecar's
// [store] go through it.
package backend

import (
	"context"

	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/postgres"
	"arxi.dev/arxi/pkg/store/sqlite"
)

// FlagUsage is the help text of a --store flag.
const FlagUsage = "the store: an SQLite `file`, or postgres://USER@HOST/DB?log=NAME"

// IsURL reports whether addr is a PostgreSQL URL rather than a file path.
func IsURL(addr string) bool { return postgres.IsURL(addr) }

// Display returns addr as it is safe to print: a path as it is, a URL
// without anything secret (see postgres.URL.String). An address that does
// not parse prints as its scheme alone.
func Display(addr string) string {
	if !IsURL(addr) {
		return addr
	}
	u, err := postgres.ParseURL(addr)
	if err != nil {
		if i := len("postgres"); len(addr) > i && addr[i] == 'q' {
			return "postgresql://…"
		}
		return "postgres://…"
	}
	return u.String()
}

// Config configures Open.
type Config struct {
	// Store is the address: a file path or a PostgreSQL URL.
	Store string
	// ReadOnly opens for reading only: no writer lock and no schema
	// changes; a store that does not exist yet is an error wrapping
	// fs.ErrNotExist.
	ReadOnly bool
	// Synchronous is the writer's durability: "full" (the default),
	// "extra" or "normal" (see sqlite.Config and postgres.Config).
	Synchronous string
}

// Open opens the backend at cfg.Store.
func Open(ctx context.Context, cfg Config) (store.Backend, error) {
	if IsURL(cfg.Store) {
		return postgres.Open(ctx, postgres.Config{URL: cfg.Store, ReadOnly: cfg.ReadOnly, Synchronous: cfg.Synchronous})
	}
	return sqlite.Open(ctx, sqlite.Config{Path: cfg.Store, ReadOnly: cfg.ReadOnly, Synchronous: cfg.Synchronous})
}

// OpenReader opens the store at addr for reading only, as every reading
// command does: no writer lock, no verification at open (a snapshot
// verifies each row it reads). Closing the Store closes the backend.
func OpenReader(ctx context.Context, addr string) (*store.Store, error) {
	b, err := Open(ctx, Config{Store: addr, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return store.Reader(b), nil
}

// OpenStore opens the backend at cfg.Store and the store over it with sc:
// a writer takes the writer lock, creates or migrates the schema and
// re-verifies the stored chain state (SPEC §8).
func OpenStore(ctx context.Context, cfg Config, sc store.Config) (*store.Store, error) {
	b, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, b, sc)
	if err != nil {
		b.Close()
		return nil, err
	}
	return s, nil
}

// InSnapshot opens the store at addr for reading (OpenReader) and runs fn
// on one consistent snapshot of it, which verifies every row it returns.
func InSnapshot(ctx context.Context, addr string, fn func(*store.Snapshot) error) error {
	s, err := OpenReader(ctx, addr)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.InSnapshot(ctx, fn)
}
