package storesource

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"strconv"
	"sync"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

// Entry describes the canonical bundle of one sealed segment: the bundle
// arxi-bundle --segment ID writes, every envelope of the segment disclosed.
type Entry struct {
	BundleID      scalar.UUID
	SegmentID     scalar.UUID
	EnvelopeCount uint64
	SealedAt      scalar.Timestamp
}

// AppendJSON appends the entry as one canonical object:
// {"bundle_id","envelope_count","sealed_at","segment_id"}.
func (e *Entry) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"bundle_id":"`...)
	dst = e.BundleID.Append(dst)
	dst = append(dst, `","envelope_count":`...)
	dst = strconv.AppendUint(dst, e.EnvelopeCount, 10)
	dst = append(dst, `,"sealed_at":"`...)
	dst = e.SealedAt.Append(dst)
	dst = append(dst, `","segment_id":"`...)
	dst = e.SegmentID.Append(dst)
	return append(dst, `"}`...)
}

// Catalog is the evidence provider over a store: the canonical bundle of
// every sealed segment, listed with its stable id and fetched by it. The
// sidecar's GET /v1/bundles routes and arxi-bundle's list and --id use it.
//
// A bundle id is derived from the bundle (SPEC §5.6), never stored as the
// authority: listing derives each sealed segment's id by planning its
// bundle (bundle.Plan, which reads and checks the whole segment), and
// fetching by id finds the candidate segments from the time in the id,
// derives their ids again, and checks that the bundle it writes carries
// the id asked for before any byte of it reaches the writer.
//
// A sealed segment never changes, so a Catalog remembers the entries it
// derived, keyed by the segment's id and the head and Merkle root its seal
// commits to: a row changed behind the store's back misses the cache. The
// zero value is ready; a Catalog is safe for concurrent use.
type Catalog struct {
	mu      sync.Mutex
	entries map[cacheKey]Entry
}

type cacheKey struct {
	segment    scalar.UUID
	head, root scalar.Digest
}

// maxCached bounds the remembered entries (about 100 bytes each).
const maxCached = 1 << 18

func keyOf(g *store.Segment) cacheKey {
	return cacheKey{segment: g.ID(), head: g.Seal.HeadChainHash, root: g.Seal.MerkleRoot}
}

// entry returns the entry of a sealed segment, planning its bundle unless
// remembered.
func (c *Catalog) entry(ctx context.Context, sn *store.Snapshot, g *store.Segment) (Entry, error) {
	k := keyOf(g)
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	sel := canonicalSelector(g.ID())
	m, err := bundle.Plan(ctx, New(sn), sel, bundle.Options{})
	if err != nil {
		return Entry{}, err
	}
	e = Entry{BundleID: m.BundleID, SegmentID: g.ID(), EnvelopeCount: g.Count, SealedAt: g.Seal.SealedAt}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[cacheKey]Entry{}
	}
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
	c.entries[k] = e
	c.mu.Unlock()
	return e, nil
}

// canonicalSelector selects one segment whole: {"segments":[id]}.
func canonicalSelector(id scalar.UUID) bundle.Selector {
	return bundle.Selector{Segments: []scalar.UUID{id}}
}

// List returns the entries of up to limit sealed segments in store order
// after cursor ("" for the first page), and the cursor of the next page
// ("" at the end). limit 0 means store.DefaultPageSize; more than
// store.MaxPageSize is usage.invalid. The store's open segment, having no
// seal, has no canonical bundle and is not listed.
func (c *Catalog) List(ctx context.Context, sn *store.Snapshot, cursor string, limit int) ([]Entry, string, error) {
	p, err := sn.SegmentPage(ctx, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]Entry, 0, len(p.Segments))
	for _, g := range p.Segments {
		if !g.Sealed() {
			continue
		}
		e, err := c.entry(ctx, sn, g)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	return out, p.Next, nil
}

// Find returns the sealed segment whose canonical bundle has the id, or
// bundle.not_found. A bundle id's first 48 bits are the Unix milliseconds
// of its first genesis's created_at, so only the segments created in that
// millisecond are candidates; their ids are derived again.
func (c *Catalog) Find(ctx context.Context, sn *store.Snapshot, id scalar.UUID) (*store.Segment, error) {
	var ms [8]byte
	copy(ms[2:], id[:6])
	want := int64(binary.BigEndian.Uint64(ms[:]))
	segs, err := sn.Segments(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range segs {
		if !g.Sealed() || g.Genesis.CreatedAt.UnixMilli() != want {
			continue
		}
		e, err := c.entry(ctx, sn, g)
		if err != nil {
			return nil, err
		}
		if e.BundleID == id {
			return g, nil
		}
	}
	return nil, errcode.New(errcode.BundleNotFound, "no sealed segment's canonical bundle has id %s", id)
}

// Fetch writes the canonical bundle with the id to w, byte for byte the
// bundle of its segment's selector (arxi-bundle --segment ID), or fails
// with bundle.not_found. The bundle's manifest is checked to carry the id
// before anything is written to w.
func (c *Catalog) Fetch(ctx context.Context, sn *store.Snapshot, id scalar.UUID, w io.Writer, opts bundle.Options) error {
	g, err := c.Find(ctx, sn, id)
	if err != nil {
		return err
	}
	cw := &checkWriter{w: w, want: id}
	if _, err := bundle.Build(ctx, New(sn), canonicalSelector(g.ID()), cw, opts); err != nil {
		return err
	}
	return cw.finish()
}

// checkWriter holds back a bundle until its manifest line has passed: the
// manifest must carry the bundle id asked for.
type checkWriter struct {
	w       io.Writer
	want    scalar.UUID
	head    []byte
	checked bool
}

func (cw *checkWriter) Write(p []byte) (int, error) {
	if cw.checked {
		return cw.w.Write(p)
	}
	cw.head = append(cw.head, p...)
	i := bytes.IndexByte(cw.head, '\n')
	if i < 0 {
		return len(p), nil
	}
	m, err := bundle.ParseManifest(cw.head[:i])
	if err != nil {
		return 0, err
	}
	if m.BundleID != cw.want {
		return 0, errcode.New(errcode.StoreCorrupt, "the bundle of segment %s has id %s, not %s: the store changed behind the catalog",
			m.Segments[0].SegmentID, m.BundleID, cw.want)
	}
	cw.checked = true
	if _, err := cw.w.Write(cw.head); err != nil {
		return 0, err
	}
	cw.head = nil
	return len(p), nil
}

func (cw *checkWriter) finish() error {
	if !cw.checked {
		return errcode.New(errcode.Internal, "the bundle has no manifest line")
	}
	return nil
}
