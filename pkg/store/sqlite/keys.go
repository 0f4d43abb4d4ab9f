package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
)

// keyEpochsTable holds one row per key lifecycle envelope the store
// accepted (SPEC §11.1, store.KeyEpochRow), in epoch order; the last row is
// the store's current key. Added in schema version 4.
const keyEpochsTable = `
CREATE TABLE key_epochs (
	epoch       INTEGER PRIMARY KEY,
	position    INTEGER NOT NULL UNIQUE,
	envelope_id BLOB NOT NULL,
	key_id      BLOB NOT NULL,
	public_key  BLOB NOT NULL
);
`

const keyEpochCols = "epoch, position, envelope_id, key_id, public_key"

func (v *view) KeyEpochs(ctx context.Context, fn func(*store.KeyEpochRow) error) error {
	err := v.c.query(ctx, "SELECT "+keyEpochCols+" FROM key_epochs ORDER BY epoch", nil, eachRow(keyEpochRow, fn))
	return v.err("read key epochs", err)
}

// keyEpochRow converts a row; values of the wrong type are store.corrupt
// naming the row.
func keyEpochRow(vals []driver.Value) (*store.KeyEpochRow, error) {
	var r store.KeyEpochRow
	fail := func(col string, err error) error {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("key_epochs row %v: column %s: %v", vals[0], col, err)}
	}
	var err error
	if r.Epoch, err = asInt(vals[0]); err != nil {
		return nil, fail("epoch", err)
	}
	pos, err := asInt(vals[1])
	if err != nil || pos < 1 {
		return nil, fail("position", fmt.Errorf("want a position from 1"))
	}
	r.Position = uint64(pos)
	if err := fixed(r.EnvelopeID[:], vals[2]); err != nil {
		return nil, fail("envelope_id", err)
	}
	if err := fixed(r.KeyID[:], vals[3]); err != nil {
		return nil, fail("key_id", err)
	}
	if r.PublicKey, err = asBytes(vals[4]); err != nil {
		return nil, fail("public_key", err)
	}
	return &r, nil
}

func (t *tx) AddKeyEpoch(ctx context.Context, k *store.KeyEpochRow) error {
	_, err := t.c.exec(bg, "INSERT INTO key_epochs ("+keyEpochCols+") VALUES (?, ?, ?, ?, ?)",
		k.Epoch, int64(k.Position), k.EnvelopeID[:], k.KeyID[:], k.PublicKey)
	if isConstraint(err, "epoch") || isConstraint(err, "position") {
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "epoch", Msg: "key epoch " + strconv.FormatInt(k.Epoch, 10) + " is already stored"}
	}
	return t.err("write key epoch", err)
}
