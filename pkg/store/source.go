package store

import (
	"context"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Head is the chain state a sealer continues from (arxi-seal --store,
// SPEC §7): the open segment's genesis, its chain (count, head, and the
// Merkle accumulator rebuilt from the stored content hashes) and the
// claimed_at of its last envelope (its created_at when empty); or, with no
// open segment, Genesis nil and Last the last sealed segment's head (nil
// in an empty store).
type Head struct {
	Genesis       *evidence.Genesis
	Chain         *evidence.Chain
	LastClaimedAt scalar.Timestamp
	Last          *evidence.Link
	// Key is the store's current signing key (SPEC §11.1); its Epoch is 0
	// when none is enrolled.
	Key Lineage
	// Rotating reports that the open segment ends with a lifecycle
	// envelope: only its key_rotation seal may follow.
	Rotating bool
}

// Head reads the store's chain state through a snapshot, so it works
// while another process holds the writer lock:
//
//	arxi-seal --store arxi.db < events.ndjson | arxi-append --store arxi.db
//
// It verifies the open segment's last envelopes as Open does, at the
// store's verify depth. Without an open segment it fails with
// segment.none_open unless open is set (a new segment is to be opened).
func (s *Store) Head(ctx context.Context, open bool) (*Head, error) {
	v, err := s.b.View(ctx)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	depth := s.depth
	if depth == NoVerify {
		depth = DefaultVerifyDepth
	}
	st, err := loadState(ctx, v, depth, s.lim)
	if err != nil {
		return nil, err
	}
	o := st.open
	if o == nil {
		if !open {
			return nil, &errcode.Error{Code: errcode.SegmentNoneOpen, Msg: "the store has no open segment to continue",
				Hint: "pass --open to open a new segment linked to the last sealed one"}
		}
		return &Head{Last: st.last, Key: st.key}, nil
	}
	if err := rebuildMerkle(ctx, v, o); err != nil {
		return nil, err
	}
	return &Head{Genesis: o.genesis, Chain: o.chain, LastClaimedAt: o.lastClaimed, Key: st.key, Rotating: o.rotated}, nil
}
