package memory

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"slices"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

func (v *view) Idempotency(ctx context.Context, key string) (*store.IdempotencyRow, error) {
	r, ok := v.idem[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *r
	c.Body = bytes.Clone(r.Body)
	return &c, nil
}

// ownIdem gives the transaction its own copy of the record map.
func (t *tx) ownIdem() {
	if t.newIdem == nil {
		t.newIdem = maps.Clone(t.idem)
		if t.newIdem == nil {
			t.newIdem = map[string]*store.IdempotencyRow{}
		}
		t.idem = t.newIdem
	}
}

func (t *tx) PutIdempotency(ctx context.Context, r *store.IdempotencyRow) error {
	t.ownIdem()
	t.idemSeq++
	c := *r
	c.Seq = t.idemSeq
	c.Body = bytes.Clone(r.Body)
	t.newIdem[r.Key] = &c
	r.Seq = c.Seq
	return nil
}

func (t *tx) PruneIdempotency(ctx context.Context, before scalar.Timestamp, keep int) (int, error) {
	t.ownIdem()
	n := 0
	for k, r := range t.newIdem {
		if r.CreatedAt.Compare(before) < 0 {
			delete(t.newIdem, k)
			n++
		}
	}
	if over := len(t.newIdem) - keep; over > 0 {
		rows := slices.SortedFunc(maps.Values(t.newIdem), func(a, b *store.IdempotencyRow) int { return cmp.Compare(a.Seq, b.Seq) })
		for _, r := range rows[:over] {
			delete(t.newIdem, r.Key)
			n++
		}
	}
	return n, nil
}
