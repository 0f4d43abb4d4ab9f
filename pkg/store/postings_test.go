package store_test

import (
	"context"
	"slices"
	"testing"

	"arxi.dev/arxi/pkg/store"
)

// list is a PostingList over a sorted slice.
type list []uint64

func (l list) Seek(_ context.Context, target uint64) (uint64, bool, error) {
	i, _ := slices.BinarySearch(l, target)
	if i == len(l) {
		return 0, false, nil
	}
	return l[i], true, nil
}

// TestAllOf: the walk yields exactly the positions every kind lists, a
// kind matching when any of its labels does, in order, whatever the order
// of the kinds.
func TestAllOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kinds []store.AnyOf
		want  []uint64
	}{
		{"one label", []store.AnyOf{{list{2, 5, 9}}}, []uint64{2, 5, 9}},
		{"two kinds", []store.AnyOf{{list{1, 2, 3, 5, 8, 13}}, {list{2, 3, 4, 8, 9}}}, []uint64{2, 3, 8}},
		{"any of a kind", []store.AnyOf{{list{1, 7}, list{4, 7, 10}}, {list{1, 4, 5, 10}}}, []uint64{1, 4, 10}},
		{"three kinds, the widest first", []store.AnyOf{{list{1, 2}, list{3, 4}, list{5, 6}}, {list{2, 4, 6}}, {list{1, 2, 6, 7}}}, []uint64{2, 6}},
		{"nothing in common", []store.AnyOf{{list{1, 3}}, {list{2, 4}}}, nil},
		{"an empty label", []store.AnyOf{{list{1, 2}}, {list{}}}, nil},
	} {
		walk := store.NewAllOf(slices.Clone(tc.kinds))
		var got []uint64
		for target := uint64(1); ; {
			p, ok, err := walk.Next(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, p)
			target = p + 1
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
