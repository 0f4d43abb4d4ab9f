// Package memory is an in-memory store.Backend, for tests and for the
// sidecar's ephemeral mode. Nothing survives the process.
//
// Committed rows are immutable and shared: a View is a set of slice
// headers taken under a lock, so it sees a consistent snapshot without
// holding the lock, and the writer never waits for readers. A Tx stages
// its writes and publishes them at Commit.
package memory

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

// Backend is an in-memory store backend. The zero value is not usable;
// call New.
type Backend struct {
	mu     sync.Mutex
	data   *data // committed; replaced, never modified, except envs beyond every view's length
	inTx   bool
	closed bool
}

// data is one committed version of the store.
type data struct {
	segs    []*store.SegmentRow // by Order-1; rows are never modified
	envs    []*store.EnvelopeRow
	blobs   map[scalar.Digest][]byte         // add-only
	meta    map[string]string                // replaced on change
	keys    []*store.KeyEpochRow             // by epoch; replaced on change, rows never modified
	idem    map[string]*store.IdempotencyRow // replaced on change; rows never modified
	idemSeq int64                            // the last idempotency Seq assigned
	segIDs  map[scalar.UUID]int64            // add-only
	envIDs  map[scalar.UUID]uint64           // add-only
	version int
}

var _ store.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New() *Backend {
	return &Backend{data: &data{blobs: map[scalar.Digest][]byte{}, meta: map[string]string{},
		segIDs: map[scalar.UUID]int64{}, envIDs: map[scalar.UUID]uint64{}}}
}

// View implements store.Backend.
func (b *Backend) View(ctx context.Context) (store.View, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed()
	}
	d := b.data
	return &view{b: b, segs: d.segs, envs: d.envs, meta: d.meta, idem: d.idem, keys: d.keys, version: d.version}, nil
}

// Begin implements store.Backend.
func (b *Backend) Begin(ctx context.Context) (store.Tx, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed()
	}
	if b.inTx {
		return nil, errcode.New(errcode.StoreLocked, "a write transaction is already open")
	}
	b.inTx = true
	d := b.data
	return &tx{view: view{b: b, segs: d.segs, envs: d.envs, meta: d.meta, idem: d.idem, keys: d.keys, version: d.version}, idemSeq: d.idemSeq,
		newSegIDs: map[scalar.UUID]int64{}, newEnvIDs: map[scalar.UUID]uint64{}, newBlobs: map[scalar.Digest][]byte{}}, nil
}

// Close implements store.Backend.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

func errClosed() error { return errcode.New(errcode.StoreIO, "the store is closed") }

// view is a snapshot: slice headers of one committed version.
type view struct {
	b       *Backend
	segs    []*store.SegmentRow
	envs    []*store.EnvelopeRow
	meta    map[string]string
	idem    map[string]*store.IdempotencyRow
	keys    []*store.KeyEpochRow
	version int
}

func (v *view) Segments(ctx context.Context, from int64, fn func(*store.SegmentRow) error) error {
	if from < 1 {
		from = 1
	}
	for i := from - 1; i < int64(len(v.segs)); i++ {
		r := *v.segs[i]
		if err := fn(&r); err != nil {
			return stop(err)
		}
	}
	return nil
}

func (v *view) SegmentByID(ctx context.Context, id scalar.UUID) (*store.SegmentRow, error) {
	for _, s := range v.segs {
		if s.ID == id {
			r := *s
			return &r, nil
		}
	}
	return nil, store.ErrNotFound
}

func (v *view) LastSegment(ctx context.Context) (*store.SegmentRow, error) {
	if len(v.segs) == 0 {
		return nil, store.ErrNotFound
	}
	r := *v.segs[len(v.segs)-1]
	return &r, nil
}

func (v *view) Envelopes(ctx context.Context, q store.Query, fn func(*store.EnvelopeRow) error) error {
	from := q.From
	if from < 1 {
		from = 1
	}
	n := 0
	for p := from; p <= uint64(len(v.envs)) && (q.To == 0 || p <= q.To); p++ {
		e := v.envs[p-1]
		if !match(&q, e) {
			continue
		}
		r := *e
		r.Kept = true // a stored row never changes
		if q.KeysOnly {
			r = store.EnvelopeRow{Position: e.Position, Segment: e.Segment, EnvelopeID: e.EnvelopeID, ContentHash: e.ContentHash, ChainHash: e.ChainHash}
		}
		if err := fn(&r); err != nil {
			return stop(err)
		}
		n++
		if q.Limit > 0 && n >= q.Limit {
			break
		}
	}
	return nil
}

func match(q *store.Query, e *store.EnvelopeRow) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || (v != "" && slices.Contains(list, v)) }
	return in(q.EventTypes, e.EventType) && in(q.ActorIDs, e.ActorID) && in(q.EnvironmentIDs, e.EnvironmentID) &&
		in(q.AdapterIDs, e.AdapterID) && in(q.TraceIDs, e.TraceID) && in(q.SessionIDs, e.SessionID) &&
		(q.Since == nil || e.ClaimedAt.Compare(*q.Since) >= 0) && (q.Until == nil || e.ClaimedAt.Compare(*q.Until) < 0)
}

func stop(err error) error {
	if err == store.ErrStop {
		return nil
	}
	return err
}

func (v *view) Blob(ctx context.Context, h scalar.Digest) ([]byte, error) {
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	if d, ok := v.b.data.blobs[h]; ok {
		return bytes.Clone(d), nil
	}
	return nil, store.ErrNotFound
}

func (v *view) BlobSize(ctx context.Context, h scalar.Digest) (int64, error) {
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	if d, ok := v.b.data.blobs[h]; ok {
		return int64(len(d)), nil
	}
	return 0, store.ErrNotFound
}

func (v *view) Meta(ctx context.Context, key string) (string, error) {
	if val, ok := v.meta[key]; ok {
		return val, nil
	}
	return "", store.ErrNotFound
}

func (v *view) Close() error { return nil }

// tx stages writes over the version it began from. Its reads see the
// staged rows: segs and envs are private copies once written.
type tx struct {
	view
	segsOwned bool
	newSegIDs map[scalar.UUID]int64
	newEnvIDs map[scalar.UUID]uint64
	newBlobs  map[scalar.Digest][]byte
	newMeta   map[string]string
	newIdem   map[string]*store.IdempotencyRow
	idemSeq   int64
	done      bool
}

func (t *tx) ownSegs() {
	if !t.segsOwned {
		t.segs = slices.Clone(t.segs)
		t.segsOwned = true
	}
}

func (t *tx) AddSegment(ctx context.Context, s *store.SegmentRow) error {
	if _, dup := t.b.segID(s.ID); dup {
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "segment_id", Segment: s.ID.String(), Msg: "a segment with this id is already stored"}
	}
	if _, dup := t.newSegIDs[s.ID]; dup {
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "segment_id", Segment: s.ID.String(), Msg: "a segment with this id is already stored"}
	}
	if s.Order != int64(len(t.segs))+1 {
		return errcode.New(errcode.Internal, "segment order %d, want %d", s.Order, len(t.segs)+1)
	}
	t.ownSegs()
	r := *s
	r.Genesis, r.Seal = bytes.Clone(s.Genesis), bytes.Clone(s.Seal)
	t.segs = append(t.segs, &r)
	t.newSegIDs[s.ID] = s.Order
	return nil
}

func (t *tx) UpdateSegment(ctx context.Context, s *store.SegmentRow) error {
	if s.Order < 1 || s.Order > int64(len(t.segs)) {
		return errcode.New(errcode.Internal, "no segment %d to update", s.Order)
	}
	t.ownSegs()
	r := *t.segs[s.Order-1]
	r.Count, r.Head, r.Seal = s.Count, s.Head, bytes.Clone(s.Seal)
	t.segs[s.Order-1] = &r
	return nil
}

func (t *tx) AddBlob(ctx context.Context, h scalar.Digest, data []byte) error {
	old, err := t.Blob(ctx, h)
	switch {
	case err == nil && !bytes.Equal(old, data):
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: "attachments row " + h.String() + ": stored bytes differ from a blob with the same hash"}
	case err == nil:
		return nil
	}
	t.newBlobs[h] = bytes.Clone(data)
	return nil
}

func (t *tx) Blob(ctx context.Context, h scalar.Digest) ([]byte, error) {
	if d, ok := t.newBlobs[h]; ok {
		return bytes.Clone(d), nil
	}
	return t.view.Blob(ctx, h)
}

func (t *tx) BlobSize(ctx context.Context, h scalar.Digest) (int64, error) {
	if d, ok := t.newBlobs[h]; ok {
		return int64(len(d)), nil
	}
	return t.view.BlobSize(ctx, h)
}

func (t *tx) AddEnvelope(ctx context.Context, e *store.EnvelopeRow) error {
	_, dup := t.b.envID(e.EnvelopeID)
	if _, dup2 := t.newEnvIDs[e.EnvelopeID]; dup || dup2 {
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "envelope_id", Msg: "envelope " + e.EnvelopeID.String() + " is already stored"}
	}
	if e.Position != uint64(len(t.envs))+1 {
		return errcode.New(errcode.Internal, "envelope position %d, want %d", e.Position, len(t.envs)+1)
	}
	if e.Segment < 1 || e.Segment > int64(len(t.segs)) {
		return errcode.New(errcode.StoreIO, "envelope of segment %d: no such segment (foreign key)", e.Segment)
	}
	// Appending may write into the committed slice's spare capacity: no
	// view reads beyond its own length, and rows below it never change.
	r := *e
	for _, s := range []*string{&r.EventType, &r.ActorID, &r.EnvironmentID, &r.AdapterID, &r.TraceID, &r.SessionID} {
		*s = strings.Clone(*s)
	}
	r.Payload, r.Attachments, r.Signatures = bytes.Clone(e.Payload), bytes.Clone(e.Attachments), bytes.Clone(e.Signatures)
	t.envs = append(t.envs, &r)
	t.newEnvIDs[e.EnvelopeID] = e.Position
	return nil
}

func (t *tx) SetMeta(ctx context.Context, key, value string) error {
	if t.newMeta == nil {
		t.newMeta = map[string]string{}
		for k, v := range t.meta {
			t.newMeta[k] = v
		}
		t.meta = t.newMeta
	}
	t.newMeta[key] = value
	return nil
}

func (t *tx) Commit() error {
	b := t.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.done {
		return errcode.New(errcode.Internal, "transaction already finished")
	}
	t.done = true
	b.inTx = false
	if b.closed {
		return errClosed()
	}
	old := b.data
	if old.version != t.version {
		return errcode.New(errcode.Internal, "store changed under the transaction")
	}
	d := &data{segs: t.segs, envs: t.envs, blobs: old.blobs, meta: t.meta, idem: t.idem, keys: t.keys, idemSeq: t.idemSeq,
		segIDs: old.segIDs, envIDs: old.envIDs, version: old.version + 1}
	for h, v := range t.newBlobs {
		d.blobs[h] = v
	}
	for id, o := range t.newSegIDs {
		d.segIDs[id] = o
	}
	for id, p := range t.newEnvIDs {
		d.envIDs[id] = p
	}
	b.data = d
	return nil
}

func (t *tx) Close() error {
	b := t.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if !t.done {
		t.done = true
		b.inTx = false
	}
	return nil
}

func (b *Backend) segID(id scalar.UUID) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.data.segIDs[id]
	return o, ok
}

func (b *Backend) envID(id scalar.UUID) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.data.envIDs[id]
	return p, ok
}
