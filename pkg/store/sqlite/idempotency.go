package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

const idempotencyCols = "seq, key, request_hash, status, content_type, body, created_s, created_ns"

func (v *view) Idempotency(ctx context.Context, key string) (*store.IdempotencyRow, error) {
	row, err := v.c.queryRow(ctx, "SELECT "+idempotencyCols+" FROM idempotency WHERE key = ?", key)
	if err != nil {
		return nil, v.err("read idempotency record", err)
	}
	if row == nil {
		return nil, store.ErrNotFound
	}
	return idempotencyRow(key, row)
}

// idempotencyRow converts a row; values of the wrong type are
// store.corrupt naming the row.
func idempotencyRow(key string, vals []driver.Value) (*store.IdempotencyRow, error) {
	var r store.IdempotencyRow
	fail := func(col string, err error) error {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("idempotency row %s: column %s: %v", strconv.Quote(key), col, err)}
	}
	var err error
	if r.Seq, err = asInt(vals[0]); err != nil {
		return nil, fail("seq", err)
	}
	if r.Key, err = asText(vals[1]); err != nil {
		return nil, fail("key", err)
	}
	if err := fixed(r.RequestHash[:], vals[2]); err != nil {
		return nil, fail("request_hash", err)
	}
	status, err := asInt(vals[3])
	if err != nil {
		return nil, fail("status", err)
	}
	r.Status = int(status)
	if r.ContentType, err = asText(vals[4]); err != nil {
		return nil, fail("content_type", err)
	}
	if r.Body, err = asBytes(vals[5]); err != nil {
		return nil, fail("body", err)
	}
	sec, err := asInt(vals[6])
	if err != nil {
		return nil, fail("created_s", err)
	}
	nsec, err := asInt(vals[7])
	if err != nil || nsec < 0 || nsec >= 1e9 {
		return nil, fail("created_ns", fmt.Errorf("want nanoseconds 0 to 999999999"))
	}
	if r.CreatedAt, err = scalar.TimestampOf(time.Unix(sec, nsec)); err != nil {
		return nil, fail("created_s", err)
	}
	return &r, nil
}

func (t *tx) PutIdempotency(ctx context.Context, r *store.IdempotencyRow) error {
	if _, err := t.c.exec(bg, "DELETE FROM idempotency WHERE key = ?", r.Key); err != nil {
		return t.err("write idempotency record", err)
	}
	at := r.CreatedAt.Time()
	seq, err := t.c.execID(bg, "INSERT INTO idempotency (key, request_hash, status, content_type, body, created_s, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
		r.Key, r.RequestHash[:], int64(r.Status), r.ContentType, r.Body, at.Unix(), int64(at.Nanosecond()))
	if err != nil {
		return t.err("write idempotency record", err)
	}
	r.Seq = seq
	return nil
}

func (t *tx) PruneIdempotency(ctx context.Context, before scalar.Timestamp, keep int) (int, error) {
	at := before.Time()
	s, ns := at.Unix(), int64(at.Nanosecond())
	n, err := t.c.exec(bg, "DELETE FROM idempotency WHERE created_s < ? OR (created_s = ? AND created_ns < ?)", s, s, ns)
	if err != nil {
		return 0, t.err("prune idempotency records", err)
	}
	// seq grows with every insert, so the newest keep records are those
	// with the keep largest seq values.
	m, err := t.c.exec(bg, "DELETE FROM idempotency WHERE seq <= (SELECT seq FROM idempotency ORDER BY seq DESC LIMIT 1 OFFSET ?)", int64(keep))
	if err != nil {
		return 0, t.err("prune idempotency records", err)
	}
	return int(n + m), nil
}
