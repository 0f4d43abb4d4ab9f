package store

import (
	"context"
	"errors"
	"mime"
	"strconv"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

// IdempotencyRow is a stored idempotency record (SIDECAR.md §3): the
// response a mutating request got the first time, kept so that a retry
// with the same Idempotency-Key gets the same response instead of a
// second write. It is written in the same backend transaction as the
// evidence the request produced, so a crash never leaves one without the
// other.
//
// Rows read back are untrusted like every other row: Idempotency checks
// them and fails with store.corrupt naming the row.
type IdempotencyRow struct {
	Seq         int64         // backend order of insertion; assigned by PutIdempotency
	Key         string        // the Idempotency-Key, 1-255 printable ASCII
	RequestHash scalar.Digest // SHA-256 over method, path and body SHA-256
	Status      int           // the response's HTTP status
	ContentType string        // the response's media type
	Body        []byte        // the response body
	CreatedAt   scalar.Timestamp
}

// Idempotency limits.
const (
	MaxIdempotencyKey  = 255
	MaxIdempotencyBody = 64 << 20
)

// CheckIdempotencyKey accepts 1-255 printable ASCII characters (0x20-0x7e).
func CheckIdempotencyKey(key string) error {
	if len(key) == 0 || len(key) > MaxIdempotencyKey {
		return errcode.New(errcode.IdempotencyKeyInvalid, "an idempotency key is 1 to %d characters, not %d", MaxIdempotencyKey, len(key))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return errcode.New(errcode.IdempotencyKeyInvalid, "an idempotency key is printable ASCII; byte %d is 0x%02x", i, key[i])
		}
	}
	return nil
}

// check validates a row, for writes (internal) and reads (store.corrupt).
func (r *IdempotencyRow) check() error {
	if err := CheckIdempotencyKey(r.Key); err != nil {
		return err
	}
	switch {
	case r.Status < 100 || r.Status > 599:
		return errors.New("status " + strconv.Itoa(r.Status) + " is not an HTTP status")
	case len(r.Body) > MaxIdempotencyBody:
		return errors.New("body exceeds " + strconv.Itoa(MaxIdempotencyBody) + " bytes")
	}
	if _, _, err := mime.ParseMediaType(r.ContentType); err != nil {
		return errors.New("content type " + strconv.Quote(r.ContentType) + " is not a media type")
	}
	return nil
}

// Idempotency returns the record with key that has not expired at now
// under ttl, or nil. A row that does not check out is store.corrupt.
func (sn *Snapshot) Idempotency(ctx context.Context, key string, now scalar.Timestamp, ttl time.Duration) (*IdempotencyRow, error) {
	if err := CheckIdempotencyKey(key); err != nil {
		return nil, err
	}
	r, err := sn.v.Idempotency(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	name := "idempotency row " + strconv.Quote(key)
	if r.Key != key {
		return nil, corrupt(name, scalar.UUID{}, 0, "row holds key %q", r.Key)
	}
	if err := r.check(); err != nil {
		return nil, corrupt(name, scalar.UUID{}, 0, "%v", errMsg(err))
	}
	if r.CreatedAt.Add(ttl).Compare(now) <= 0 {
		return nil, nil // expired: as good as absent
	}
	return r, nil
}

// PutIdempotency writes an idempotency record into the open batch
// (beginning one), so it commits or rolls back with the evidence around
// it.
func (a *Appender) PutIdempotency(ctx context.Context, r *IdempotencyRow) error {
	if err := r.check(); err != nil {
		return errcode.Wrap(errcode.Internal, err, "invalid idempotency record")
	}
	if err := a.begin(ctx); err != nil {
		return err
	}
	if err := a.tx.PutIdempotency(ctx, r); err != nil {
		a.Rollback()
		return err
	}
	return nil
}

// PruneIdempotency deletes, in the open batch (beginning one), the
// records created before before and the oldest beyond the newest keep.
func (a *Appender) PruneIdempotency(ctx context.Context, before scalar.Timestamp, keep int) (int, error) {
	if keep < 0 {
		return 0, errcode.New(errcode.Internal, "negative idempotency keep count")
	}
	if err := a.begin(ctx); err != nil {
		return 0, err
	}
	n, err := a.tx.PruneIdempotency(ctx, before, keep)
	if err != nil {
		a.Rollback()
		return 0, err
	}
	return n, nil
}
