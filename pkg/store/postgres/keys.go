package postgres

import (
	"context"
	"fmt"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
)

const keyEpochCols = "epoch, position, envelope_id, key_id, public_key"

func (v *view) KeyEpochs(ctx context.Context, fn func(*store.KeyEpochRow) error) error {
	rows, err := v.tx.Query(ctx, "SELECT "+keyEpochCols+" FROM arxi.key_epochs WHERE log_id = $1 ORDER BY epoch", v.db.log)
	if err != nil {
		return v.err("read key epochs", err)
	}
	var all []*store.KeyEpochRow
	for rows.Next() {
		var r store.KeyEpochRow
		var pos int64
		var env [16]byte
		var id []byte
		if err := rows.Scan(&r.Epoch, &pos, &env, &id, &r.PublicKey); err != nil {
			rows.Close()
			return v.err("read key epochs", err)
		}
		if pos < 1 || len(id) != len(r.KeyID) {
			rows.Close()
			return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("key_epochs row %d: bad position or key_id", r.Epoch)}
		}
		r.Position, r.EnvelopeID = uint64(pos), env
		copy(r.KeyID[:], id)
		all = append(all, &r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return v.err("read key epochs", err)
	}
	for _, r := range all {
		if err := fn(r); err != nil {
			if err == store.ErrStop {
				return nil
			}
			return err
		}
	}
	return nil
}

func (t *tx) KeyEpochs(ctx context.Context, fn func(*store.KeyEpochRow) error) error {
	if err := t.idle(); err != nil {
		return err
	}
	return t.view.KeyEpochs(ctx, fn)
}

func (t *tx) AddKeyEpoch(ctx context.Context, k *store.KeyEpochRow) error {
	if err := t.idle(); err != nil {
		return err
	}
	_, err := t.tx.Exec(bg, "INSERT INTO arxi.key_epochs (log_id, "+keyEpochCols+") VALUES ($1, $2, $3, $4, $5, $6)",
		t.db.log, k.Epoch, int64(k.Position), [16]byte(k.EnvelopeID), k.KeyID[:], k.PublicKey)
	if _, ok := uniqueViolation(err); ok {
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "epoch", Msg: "key epoch " + strconv.FormatInt(k.Epoch, 10) + " is already stored"}
	}
	return t.err("write key epoch", err)
}
