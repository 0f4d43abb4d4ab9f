// Package storesource lets bundle.Build read from a store (SPEC §9.2):
// segments in store order, each replayed and verified by a store snapshot,
// and blobs by hash. It offers Build no index: which envelopes a selector
// matches is decided from the verified lines of every segment (SPEC §8). It is a package of its own so that the verifier, which
// needs bundles but never a store, does not depend on one.
package storesource

import (
	"context"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

// Source is a bundle.Source over one consistent store snapshot. It is not
// safe for concurrent use, like the snapshot.
type Source struct {
	sn *store.Snapshot
}

var (
	_ bundle.Source  = (*Source)(nil)
	_ bundle.Counter = (*Source)(nil)
)

// New returns a Source reading sn. The caller closes sn when done.
func New(sn *store.Snapshot) *Source { return &Source{sn: sn} }

// Segments implements bundle.Source.
func (s *Source) Segments(ctx context.Context) ([]scalar.UUID, error) {
	segs, err := s.sn.Segments(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]scalar.UUID, len(segs))
	for i, g := range segs {
		ids[i] = g.ID()
	}
	return ids, nil
}

// Records implements bundle.Source. The snapshot verifies every row on
// the way (store.corrupt names a bad one).
func (s *Source) Records(ctx context.Context, id scalar.UUID, fn func(evidence.Record, []byte) error) error {
	seg, err := s.sn.Segment(ctx, id)
	if err != nil {
		return err
	}
	return s.sn.Records(ctx, seg, fn)
}

// EnvelopeCount implements bundle.Counter.
func (s *Source) EnvelopeCount(ctx context.Context, id scalar.UUID) (uint64, error) {
	seg, err := s.sn.Segment(ctx, id)
	if err != nil {
		return 0, err
	}
	return seg.Count, nil
}

// Attachment implements bundle.Source.
func (s *Source) Attachment(ctx context.Context, h scalar.Digest) (*evidence.Attachment, error) {
	return s.sn.Attachment(ctx, h)
}
