package store

import (
	"cmp"
	"context"
	"slices"
)

// PostingList is a backend's index of one label: the positions of the
// envelopes that carry it, in increasing order. Seek returns the first
// position at or after target, ok false when there is none. The lists are
// untrusted (SPEC §8): a backend re-checks every row they lead it to.
type PostingList interface {
	Seek(ctx context.Context, target uint64) (pos uint64, ok bool, err error)
}

// AnyOf merges the lists of several labels of one kind (the values a
// query gives one field): a position matches when any of them lists it.
type AnyOf []PostingList

// Seek implements PostingList.
func (a AnyOf) Seek(ctx context.Context, target uint64) (uint64, bool, error) {
	best, found := uint64(0), false
	for _, l := range a {
		p, ok, err := l.Seek(ctx, target)
		if err != nil {
			return 0, false, err
		}
		if ok && (!found || p < best) {
			best, found = p, true
		}
	}
	return best, found, nil
}

// AllOf intersects the kinds of a query: a position matches when every
// kind lists it.
type AllOf []AnyOf

// NewAllOf orders kinds for AllOf, those with fewer labels first: a cheap
// proxy for the rarest list, which keeps a trace from being walked behind
// an environment.
func NewAllOf(kinds []AnyOf) AllOf {
	slices.SortStableFunc(kinds, func(a, b AnyOf) int { return cmp.Compare(len(a), len(b)) })
	return kinds
}

// Next returns the first position at or after target that every kind
// lists, ok false when there is none. It leapfrogs: each kind seeks to
// the position another reached, until they agree.
func (k AllOf) Next(ctx context.Context, target uint64) (uint64, bool, error) {
	for {
		agreed := true
		for _, kind := range k {
			p, ok, err := kind.Seek(ctx, target)
			if err != nil || !ok {
				return 0, false, err
			}
			if p != target {
				target, agreed = p, false
				break
			}
		}
		if agreed {
			return target, true, nil
		}
	}
}
