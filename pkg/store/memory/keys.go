package memory

import (
	"bytes"
	"context"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
)

func (v *view) KeyEpochs(ctx context.Context, fn func(*store.KeyEpochRow) error) error {
	for _, k := range v.keys {
		r := *k
		r.PublicKey = bytes.Clone(k.PublicKey)
		if err := fn(&r); err != nil {
			return stop(err)
		}
	}
	return nil
}

func (t *tx) AddKeyEpoch(ctx context.Context, k *store.KeyEpochRow) error {
	for _, o := range t.keys {
		if o.Epoch == k.Epoch {
			return &errcode.Error{Code: errcode.StoreDuplicate, Field: "epoch", Msg: "key epoch " + strconv.FormatInt(k.Epoch, 10) + " is already stored"}
		}
	}
	r := *k
	r.PublicKey = bytes.Clone(k.PublicKey)
	t.keys = append(slices.Clip(t.keys), &r)
	slices.SortFunc(t.keys, func(a, b *store.KeyEpochRow) int { return int(a.Epoch - b.Epoch) })
	return nil
}
