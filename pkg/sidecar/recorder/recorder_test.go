package recorder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/postgres"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

var ctx = context.Background()

// taken reports whether the writer has taken the job.
func (j *Job) taken() bool { return j.state.Load() == taken }

func unsealed(t testing.TB, line string) *evidence.Unsealed {
	t.Helper()
	rec, _, err := evidence.NewDecoder(evidence.Limits{}).Unsealed(nil, []byte(strings.TrimSpace(line)))
	if err != nil {
		t.Fatal(err)
	}
	return rec.(*evidence.Unsealed)
}

type observer struct {
	mu     sync.Mutex
	groups []int
	seals  []evidence.SealReason
}

func (o *observer) Committed(jobs, envelopes int, took time.Duration) {
	o.mu.Lock()
	o.groups = append(o.groups, jobs)
	o.mu.Unlock()
}
func (o *observer) Sealed(r evidence.SealReason) {
	o.mu.Lock()
	o.seals = append(o.seals, r)
	o.mu.Unlock()
}
func (o *observer) Failed(error) {}

func start(t testing.TB, b store.Backend, cfg Config) (*Recorder, *store.Store) {
	t.Helper()
	s, err := store.Open(ctx, b, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = s
	if cfg.RecorderID.IsZero() {
		cfg.RecorderID = scalar.MustLabel("sidecar-test")
	}
	r, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func dump(t *testing.T, s *store.Store) []byte {
	t.Helper()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var b bytes.Buffer
	if err := sn.WriteStream(ctx, &b, store.Filter{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGroupCommit: jobs queued while a transaction is being prepared are
// committed together in the next; every one is answered with its receipt,
// and the store holds the chain a sealer would have made of them in the
// order they were taken.
func TestGroupCommit(t *testing.T) {
	obs := &observer{}
	r, s := start(t, memory.New(), Config{Observer: obs, MaxEnvelopes: 7})
	const n = 20
	release := make(chan struct{})
	first := &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(0))},
		Render: func(*Outcome) (*Response, error) {
			<-release
			return &Response{Status: 201, ContentType: "application/json"}, nil
		}}
	var wg sync.WaitGroup
	results := make([]*Outcome, n)
	errs := make([]error, n)
	wg.Add(1)
	go func() { defer wg.Done(); results[0], _, errs[0] = r.Do(ctx, first) }()
	for r.Queued() > 0 || !first.taken() {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _, errs[i] = r.Do(ctx, &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(i))}})
		}()
	}
	for r.Queued() < n-1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil || len(results[i].Receipts) != 1 {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if fmt.Sprint(obs.groups) != fmt.Sprint([]int{1, n - 1}) {
		t.Errorf("transactions of %v jobs, want [1 %d]", obs.groups, n-1)
	}
	if _, err := r.Close(false); err != nil {
		t.Fatal(err)
	}
	got := dump(t, s)
	storetest.CheckStream(t, got)
	if c := bytes.Count(got, []byte(`"record":"envelope"`)); c != n {
		t.Errorf("the store holds %d envelopes, want %d", c, n)
	}
	if c := bytes.Count(got, []byte(`"reason":"auto_count"`)); c != 2 {
		t.Errorf("%d auto_count seals in 20 envelopes of segments of 7", c)
	}
}

// TestFailAlone: in one group, a job the store rejects (an envelope id
// already stored) and one the sealer rejects (an attachment reference to
// nothing) fail with their codes; every other job commits, and the chain
// has no hole.
func TestFailAlone(t *testing.T) {
	for _, kind := range backends {
		t.Run(kind, func(t *testing.T) { testFailAlone(t, openBackend(t, kind, "")) })
	}
}

// backends are the kinds of store the recorder's tests and benchmarks run
// on.
var backends = []string{"memory", "sqlite", "postgres"}

// openBackend opens a new store of the kind named, SQLite with the
// synchronous level sync ("" for the default), closed when t ends.
func openBackend(t testing.TB, kind, sync string) store.Backend {
	t.Helper()
	var b store.Backend
	var err error
	switch kind {
	case "memory":
		return memory.New()
	case "sqlite":
		b, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "arxi.db"), Synchronous: sync})
	case "postgres":
		b, err = postgres.Open(ctx, postgres.Config{URL: pgtest.LogURL(pgtest.Shared(t).NewDatabase(t), "recorder")})
	default:
		t.Fatalf("no backend %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// testFailAlone: jobs the sealer or the store rejects fail alone, with
// the line of the record at fault, in a group whose other jobs commit;
// on SQLite a batch's rows are written in multi-row statements, and a
// duplicate deep in a batch fails only when a later row is written.
func testFailAlone(t *testing.T, b store.Backend) {
	obs := &observer{}
	r, s := start(t, b, Config{Observer: obs})
	dupID := "01a2027b-d680-7bcd-a4c0-01327fd130f5"
	withID := func(i int) *evidence.Unsealed {
		return unsealed(t, strings.Replace(storetest.Event(i), `{"event_type"`, `{"envelope_id":"`+dupID+`","event_type"`, 1))
	}
	if _, _, err := r.Do(ctx, &Job{Kind: Record, Records: []evidence.Record{withID(0)}}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	blocker := &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(1))},
		Render: func(*Outcome) (*Response, error) { <-release; return nil, nil }}
	go r.Do(ctx, blocker)
	for !blocker.taken() {
		time.Sleep(time.Millisecond)
	}
	missing := unsealed(t, storetest.Event(2))
	missing.Attachments = []evidence.AttachmentRef{{ContentType: scalar.MustContentType("text/plain"), Hash: scalar.Sum([]byte("nothing")), Size: 7}}
	missing.Data = [][]byte{nil}
	batchBad := []evidence.Record{unsealed(t, storetest.Event(3)), unsealed(t, storetest.Event(4)), missing}
	var batchDup []evidence.Record
	var dupLines []int64
	for i := range 40 {
		if i == 34 {
			batchDup = append(batchDup, withID(20+i))
		} else {
			batchDup = append(batchDup, unsealed(t, storetest.Event(20+i)))
		}
		dupLines = append(dupLines, int64(i+1))
	}
	jobs := []*Job{
		{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(5))}},
		{Kind: Record, Records: []evidence.Record{withID(6)}},      // store: duplicate
		{Kind: Record, Records: batchBad, Lines: []int64{1, 2, 3}}, // sealer: third line
		{Kind: Record, Records: batchDup, Lines: dupLines},         // store: duplicate on line 35
		{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(7))}},
		{Kind: SealSegment, Reason: evidence.SealManual},
		{Kind: SealSegment, Reason: evidence.SealManual}, // none open now
		{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(8))}},
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); _, _, errs[i] = r.Do(ctx, j) }()
		for r.Queued() < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	want := []errcode.Code{"", errcode.StoreDuplicate, errcode.InputAttachmentMiss, errcode.StoreDuplicate, "", "", errcode.SegmentNoneOpen, ""}
	for i, err := range errs {
		if got := errcode.Code(""); err != nil {
			got = errcode.CodeOf(err)
			if got != want[i] {
				t.Errorf("job %d: %v, want %s", i, err, want[i])
			}
		} else if want[i] != "" {
			t.Errorf("job %d succeeded, want %s", i, want[i])
		}
	}
	if e, _ := errcode.As(errs[2]); e == nil || e.Line != 3 {
		t.Errorf("the batch's error names line %v, want 3", errs[2])
	}
	if e, _ := errcode.As(errs[3]); e == nil || e.Line != 35 {
		t.Errorf("the batch's error names line %v, want 35", errs[3])
	}
	r.Close(false)
	got := dump(t, s)
	storetest.CheckStream(t, got)
	envs := storetest.Envelopes(t, got)
	var ids []string
	for _, e := range envs {
		ids = append(ids, strings.TrimPrefix(e.Payload, `{"i":`))
	}
	if fmt.Sprint(ids) != "[0} 1} 5} 7} 8}]" {
		t.Errorf("stored events %v, want 0 1 5 7 8", ids)
	}
	if !bytes.Contains(got, []byte(`"reason":"manual"`)) {
		t.Error("no manual seal")
	}
}

// TestIdempotencyRecord: a job's rendered response is stored with its key
// in the transaction of its evidence.
func TestIdempotencyRecord(t *testing.T) {
	r, s := start(t, memory.New(), Config{IdempotencyTTL: time.Hour, IdempotencyMax: 10})
	body := []byte(`{"ok":true}`)
	_, resp, err := r.Do(ctx, &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(0))},
		Idempotency: &Idempotency{Key: "k-1", RequestHash: scalar.Sum([]byte("req"))},
		Render: func(o *Outcome) (*Response, error) {
			return &Response{Status: 201, ContentType: "application/json", Body: body}, nil
		}})
	if err != nil || resp.Status != 201 {
		t.Fatal(err)
	}
	r.Close(false)
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	now, _ := scalar.TimestampOf(time.Now().UTC())
	row, err := sn.Idempotency(ctx, "k-1", now, time.Hour)
	if err != nil || row == nil || !bytes.Equal(row.Body, body) || row.RequestHash != scalar.Sum([]byte("req")) {
		t.Fatalf("stored record %+v, %v", row, err)
	}
}

// TestRestart: a recorder started on a store another left continues its
// chain; one closed with sealOnShutdown seals it (reason shutdown), and
// opening and sealing by hand work from there.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	open := func() store.Backend {
		db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	b := open()
	r, s := start(t, b, Config{})
	for i := range 3 {
		if _, _, err := r.Do(ctx, &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	r.Close(false)
	s.Close()
	b = open()
	r, s = start(t, b, Config{})
	out, _, err := r.Do(ctx, &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(3))}})
	if err != nil || out.Receipts[0].Sequence != 4 {
		t.Fatalf("after restart: %+v, %v", out, err)
	}
	seal, err := r.Close(true)
	if err != nil || seal == nil || seal.Reason != evidence.SealShutdown || seal.EnvelopeCount != 4 {
		t.Fatalf("shutdown seal %+v, %v", seal, err)
	}
	s.Close()
	b = open()
	r, s = start(t, b, Config{})
	defer s.Close()
	if _, _, err := r.Do(ctx, &Job{Kind: SealSegment, Reason: evidence.SealManual}); !errors.Is(err, errcode.SegmentNoneOpen) {
		t.Errorf("seal with none open: %v", err)
	}
	out, _, err = r.Do(ctx, &Job{Kind: OpenSegment})
	if err != nil || out.Genesis == nil || out.Genesis.Predecessor == nil || out.Genesis.Predecessor.SegmentID != seal.SegmentID {
		t.Fatalf("open: %+v, %v", out, err)
	}
	if _, _, err := r.Do(ctx, &Job{Kind: OpenSegment}); !errors.Is(err, errcode.SegmentAlreadyOpen) {
		t.Errorf("second open: %v", err)
	}
	out, _, err = r.Do(ctx, &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(4))}})
	if err != nil || out.Receipts[0].Sequence != 1 || out.Receipts[0].SegmentID != out.Envelopes[0].SegmentID {
		t.Fatalf("record into the opened segment: %+v, %v", out, err)
	}
	r.Close(false)
	storetest.CheckStream(t, dump(t, s))
	// Closed: jobs are refused.
	if _, _, err := r.Do(ctx, &Job{Kind: OpenSegment}); !errors.Is(err, errcode.ServiceUnavailable) {
		t.Errorf("after Close: %v", err)
	}
}

// TestWithdraw: a job whose context ends while it waits is withdrawn with
// request.timeout and never written.
func TestWithdraw(t *testing.T) {
	r, s := start(t, memory.New(), Config{})
	release := make(chan struct{})
	blocker := &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(0))},
		Render: func(*Outcome) (*Response, error) { <-release; return nil, nil }}
	go r.Do(ctx, blocker)
	for !blocker.taken() {
		time.Sleep(time.Millisecond)
	}
	c, cancel := context.WithCancel(ctx)
	errc := make(chan error)
	go func() {
		_, _, err := r.Do(c, &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(1))}})
		errc <- err
	}()
	for r.Queued() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, errcode.RequestTimeout) {
		t.Errorf("withdrawn job: %v", err)
	}
	close(release)
	r.Close(false)
	if n := bytes.Count(dump(t, s), []byte(`"record":"envelope"`)); n != 1 {
		t.Errorf("%d envelopes stored, want 1", n)
	}
}

// TestSignedSeals: a recorder with a signing key signs every seal it
// makes, by count and at shutdown, over its checkpoint (SPEC §11.2),
// through the sealing package; the store keeps the signatures.
func TestSignedSeals(t *testing.T) {
	key := signing.NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	r, s := start(t, memory.New(), Config{MaxEnvelopes: 2, Signers: []sealing.Signer{key}})
	for i := range 3 {
		if _, _, err := r.Do(ctx, &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Close(true); err != nil {
		t.Fatal(err)
	}
	root, err := signing.NewTrustRoot([]signing.TrustedKey{key.TrustedKey()}, signing.Policy{Kind: signing.AnyTrustedKey})
	if err != nil {
		t.Fatal(err)
	}
	var genesis scalar.Digest
	var reasons []evidence.SealReason
	for _, rec := range storetest.Records(t, dump(t, s)) {
		switch v := rec.(type) {
		case *evidence.Genesis:
			genesis = v.GenesisHash
		case *evidence.Seal:
			reasons = append(reasons, v.Reason)
			if o := root.CheckMessage(checkpoint.Append(nil, genesis, v), v.Signatures); !o.Satisfied || len(v.Signatures) != 1 {
				t.Errorf("%s seal of segment %s: %+v", v.Reason, v.SegmentID, o)
			}
		}
	}
	if fmt.Sprint(reasons) != "[auto_count shutdown]" {
		t.Errorf("seals %v, want [auto_count shutdown]", reasons)
	}
}

// faultBackend is a real backend that commits early (store.EarlyBackend)
// and whose commits and fsyncs (Durable) pass hooks first: a hook may hold
// one (a slow disk) and fail it (a full one, a failing one); a failed
// commit is rolled back, as the store does with an error of its backend.
type faultBackend struct {
	store.Backend
	mu      sync.Mutex
	commits int
	syncs   int
	commit  func(n int) error // n counts commits from 1
	durable func(n int) error // n counts Durable calls from 1
	adds    atomic.Int32      // envelope rows written
}

type faultTx struct {
	store.Tx
	b *faultBackend
}

func (b *faultBackend) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := b.Backend.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &faultTx{Tx: tx, b: b}, nil
}

func (b *faultBackend) BeginEarly(ctx context.Context) (store.Tx, error) { return b.Begin(ctx) }

func (b *faultBackend) Durable() error {
	b.mu.Lock()
	b.syncs++
	n, hook := b.syncs, b.durable
	b.mu.Unlock()
	if hook != nil {
		return hook(n)
	}
	return nil
}

func (t *faultTx) AddEnvelope(ctx context.Context, e *store.EnvelopeRow) error {
	t.b.adds.Add(1)
	return t.Tx.AddEnvelope(ctx, e)
}

func (t *faultTx) Commit() error {
	t.b.mu.Lock()
	t.b.commits++
	n, hook := t.b.commits, t.b.commit
	t.b.mu.Unlock()
	if hook != nil {
		if err := hook(n); err != nil {
			return err
		}
	}
	return t.Tx.Commit()
}

// held is a hook that holds call number at until release says how it
// ends; entered is signalled when it is held.
func held(at int, entered chan<- struct{}, release <-chan error) func(int) error {
	return func(n int) error {
		if n != at {
			return nil
		}
		entered <- struct{}{}
		return <-release
	}
}

type answer struct {
	out *Outcome
	err error
}

func submit(r *Recorder, j *Job) <-chan answer {
	c := make(chan answer, 1)
	go func() {
		out, _, err := r.Do(ctx, j)
		c <- answer{out, err}
	}()
	return c
}

func waitTaken(jobs ...*Job) {
	for _, j := range jobs {
		for !j.taken() {
			time.Sleep(time.Millisecond)
		}
	}
}

func waitQueued(r *Recorder, n int) {
	for r.Queued() < n {
		time.Sleep(time.Millisecond)
	}
}

func record(t *testing.T, i int) *Job {
	return &Job{Kind: Record, Records: []evidence.Record{unsealed(t, storetest.Event(i))}}
}

// TestPipelinedCommit: while a group's fsync (Durable) is held, the
// writer takes the jobs that arrive, seals them on the chain the group
// leaves and writes their rows into the next transaction; the held group
// is answered only once its fsync returns, and the jobs written meanwhile
// commit together in the next transaction, which commits only then.
func TestPipelinedCommit(t *testing.T) {
	entered, release := make(chan struct{}), make(chan error)
	fb := &faultBackend{Backend: memory.New(), durable: held(1, entered, release)}
	obs := &observer{}
	r, s := start(t, fb, Config{Observer: obs})
	a := submit(r, record(t, 0))
	<-entered
	b, c := record(t, 1), record(t, 2)
	bc := submit(r, b)
	waitTaken(b)
	cc := submit(r, c)
	waitTaken(c)
	for fb.adds.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	fb.mu.Lock()
	commits := fb.commits
	fb.mu.Unlock()
	if commits != 1 {
		t.Errorf("%d commits while the first group's fsync is held, want 1", commits)
	}
	select {
	case got := <-a:
		t.Fatalf("answered before its fsync returned: %+v", got)
	default:
	}
	release <- nil
	for i, ch := range []<-chan answer{a, bc, cc} {
		got := <-ch
		if got.err != nil || got.out.Receipts[0].Sequence != uint64(i+1) {
			t.Fatalf("job %d: %+v, %v", i, got.out, got.err)
		}
	}
	r.Close(false)
	if fmt.Sprint(obs.groups) != "[1 2]" {
		t.Errorf("transactions of %v jobs, want [1 2]", obs.groups)
	}
	storetest.CheckStream(t, dump(t, s))
}

// TestPipelinedCommitFailure: a commit that fails fails exactly the jobs
// of its group, those whose fault the sealer found too (on a chain that
// did not become durable); the jobs that arrive meanwhile are prepared
// from the committed chain and commit, answered as that chain says: a
// seal that would have found no open segment on the failed group's chain
// seals the segment that is still open.
func TestPipelinedCommitFailure(t *testing.T) {
	entered, release := make(chan struct{}), make(chan error)
	fb := &faultBackend{Backend: memory.New(), commit: held(3, entered, release)}
	failures := 0
	obs := &countingObserver{failed: &failures}
	r, s := start(t, fb, Config{Observer: obs})
	if _, _, err := r.Do(ctx, record(t, 0)); err != nil { // commit 1
		t.Fatal(err)
	}
	// The group [x, s1] (commit 3) is gathered and written while the
	// fsync of a job before it (commit 2) is held.
	syncEntered, syncRelease := make(chan struct{}), make(chan error)
	fb.mu.Lock()
	fb.durable = held(2, syncEntered, syncRelease)
	fb.mu.Unlock()
	bc := submit(r, record(t, 1))
	<-syncEntered
	missing := unsealed(t, storetest.Event(9))
	missing.Attachments = []evidence.AttachmentRef{{ContentType: scalar.MustContentType("text/plain"), Hash: scalar.Sum([]byte("nothing")), Size: 7}}
	missing.Data = [][]byte{nil}
	x := &Job{Kind: Record, Records: []evidence.Record{missing}}
	s1 := &Job{Kind: SealSegment, Reason: evidence.SealManual}
	xc := submit(r, x)
	waitTaken(x)
	s1c := submit(r, s1)
	waitTaken(s1)
	syncRelease <- nil
	if got := <-bc; got.err != nil {
		t.Fatal(got.err)
	}
	<-entered // commit 3, of [x, s1], is held
	s2 := &Job{Kind: SealSegment, Reason: evidence.SealManual}
	d := record(t, 2)
	s2c := submit(r, s2)
	waitQueued(r, 1)
	dc := submit(r, d)
	waitQueued(r, 2)
	release <- errcode.New(errcode.StoreIO, "injected: the disk is full")
	for name, ch := range map[string]<-chan answer{"x": xc, "s1": s1c} {
		if got := <-ch; !errors.Is(got.err, errcode.StoreIO) {
			t.Errorf("%s of the failed group: %v, want store.io", name, got.err)
		}
	}
	got := <-s2c
	if got.err != nil || got.out.Seal == nil || got.out.Seal.EnvelopeCount != 2 {
		t.Fatalf("seal after the failed group: %+v, %v", got.out, got.err)
	}
	seal := got.out.Seal
	got = <-dc
	if got.err != nil || got.out.Receipts[0].Sequence != 1 || got.out.Records[0].(*evidence.Genesis).Predecessor.SegmentID != seal.SegmentID {
		t.Fatalf("record after the failed group: %+v, %v", got.out, got.err)
	}
	if !r.Healthy() {
		t.Error("unhealthy after a commit that succeeded")
	}
	r.Close(false)
	if failures != 1 {
		t.Errorf("%d failed transactions reported, want 1", failures)
	}
	out := dump(t, s)
	storetest.CheckStream(t, out)
	var ids []string
	for _, e := range storetest.Envelopes(t, out) {
		ids = append(ids, strings.TrimPrefix(e.Payload, `{"i":`))
	}
	if fmt.Sprint(ids) != "[0} 1} 2}]" || bytes.Count(out, []byte(`"reason":"manual"`)) != 1 {
		t.Errorf("stored events %v and %d manual seals, want 0 1 2 and one", ids, bytes.Count(out, []byte(`"reason":"manual"`)))
	}
}

// TestDurableFailure: a group committed early whose fsync fails is
// answered store.io, and so is every job after it, those written on its
// chain while the fsync ran too, for nothing after a transaction that may
// not survive a crash can be promised: the recorder records nothing more
// and is unhealthy. A recorder restarted on the store continues the chain
// the store holds.
func TestDurableFailure(t *testing.T) {
	entered, release := make(chan struct{}), make(chan error)
	fb := &faultBackend{Backend: memory.New(), durable: held(2, entered, release)}
	failures := 0
	r, _ := start(t, fb, Config{Observer: &countingObserver{failed: &failures}})
	if _, _, err := r.Do(ctx, record(t, 0)); err != nil {
		t.Fatal(err)
	}
	bc := submit(r, record(t, 1))
	<-entered
	c, d := record(t, 2), &Job{Kind: SealSegment, Reason: evidence.SealManual}
	cc, dc := submit(r, c), submit(r, d)
	waitTaken(c, d)
	for fb.adds.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	release <- errors.New("injected: fsync: input/output error")
	for name, ch := range map[string]<-chan answer{"b": bc, "c": cc, "d": dc} {
		if got := <-ch; !errors.Is(got.err, errcode.StoreIO) {
			t.Errorf("%s: %v, want store.io", name, got.err)
		}
	}
	if _, _, err := r.Do(ctx, record(t, 3)); !errors.Is(err, errcode.StoreIO) {
		t.Errorf("a job after the failure: %v, want store.io", err)
	}
	if r.Healthy() {
		t.Error("healthy after a failed fsync")
	}
	if _, err := r.Close(true); !errors.Is(err, errcode.StoreIO) {
		t.Errorf("shutdown seal after the failure: %v, want store.io", err)
	}
	fb.mu.Lock()
	if fb.commits != 2 {
		t.Errorf("%d commits, want 2: nothing after the failed fsync", fb.commits)
	}
	fb.durable = nil
	fb.mu.Unlock()
	r, s := start(t, fb, Config{}) // a restart: a new store and recorder on the backend
	got, _, err := r.Do(ctx, record(t, 4))
	if err != nil || got.Receipts[0].Sequence != 3 {
		t.Fatalf("after a restart: %+v, %v; want sequence 3, after the 2 the store holds", got, err)
	}
	r.Close(false)
	storetest.CheckStream(t, dump(t, s))
	if failures != 1 {
		t.Errorf("%d failed transactions reported, want 1", failures)
	}
}

type countingObserver struct {
	observer
	failed *int
}

func (o *countingObserver) Failed(error) { *o.failed++ }
